package interop.javarunner;

import java.util.HashMap;
import java.util.Map;

import org.springframework.boot.Banner;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.annotation.ComponentScan;

/**
 * The Apache APISIX Java Plugin Runner (apisix-runner-core 0.4.0) with the test
 * plugins of this package, for the interop tests of apisix-ext-plugin.
 *
 * <p>The runner's own beans do all the protocol work: {@code ApplicationRunner}
 * (a CommandLineRunner) listens on {@code socket.file} and blocks the main thread
 * until the server channel closes. This class only replaces the runner's
 * {@code PluginRunnerApplication}: it scans the runner's packages plus ours, and
 * leaves out Spring Boot auto-configuration, which the runner does not use and
 * which costs start-up time.
 */
@SpringBootConfiguration
@ComponentScan(basePackages = {"org.apache.apisix.plugin.runner", "interop.javarunner"})
public class JavaRunner {

    public static void main(String[] args) {
        String address = System.getenv("APISIX_LISTEN_ADDRESS");
        if (address == null || address.isBlank()) {
            // The runner would fail later with a long Spring stack trace.
            System.err.println("java-runner: APISIX_LISTEN_ADDRESS is not set (want unix:/path/to/runner.sock)");
            System.exit(1);
        }

        Map<String, Object> defaults = new HashMap<>();
        // The release reads APISIX_CONF_EXPIRE_TIME with no fallback and fails to
        // start without it; the Go runner defaults to 3600, so do we.
        defaults.put("APISIX_CONF_EXPIRE_TIME", "3600");
        String level = System.getenv("JAVA_RUNNER_LOG_LEVEL");
        if (level != null && !level.isBlank()) {
            defaults.put("logging.level.root", level);
        }

        new SpringApplicationBuilder(JavaRunner.class)
                .web(WebApplicationType.NONE)
                .bannerMode(Banner.Mode.OFF)
                .properties(defaults)
                .run(args);
    }
}
