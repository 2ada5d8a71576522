// Command go-runner is the real Apache APISIX Go Plugin Runner with a set of
// test plugins registered, used by the interop tests of apisix-ext-plugin.
// See README.md beside this file for the plugins and what they put on the wire.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/apache/apisix-go-plugin-runner/pkg/plugin"
	"github.com/apache/apisix-go-plugin-runner/pkg/runner"
	"go.uber.org/zap/zapcore"
)

func main() {
	for _, p := range allPlugins() {
		if err := plugin.RegisterPlugin(p); err != nil {
			fmt.Fprintf(os.Stderr, "go-runner: register %s: %v\n", p.Name(), err)
			os.Exit(2)
		}
	}

	// The runner logs every frame at info level; benchmarks want it quieter.
	level := zapcore.InfoLevel
	if s := os.Getenv("GO_RUNNER_LOG_LEVEL"); s != "" {
		if err := level.UnmarshalText([]byte(strings.ToLower(s))); err != nil {
			fmt.Fprintf(os.Stderr, "go-runner: bad GO_RUNNER_LOG_LEVEL %q: %v\n", s, err)
			os.Exit(2)
		}
	}

	// Run reads APISIX_LISTEN_ADDRESS and APISIX_CONF_EXPIRE_TIME itself and
	// returns after SIGINT/SIGTERM, having removed the socket file.
	runner.Run(runner.RunnerConfig{LogLevel: level, LogOutput: os.Stdout})
}
