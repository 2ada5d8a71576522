package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"time"

	pkgHTTP "github.com/apache/apisix-go-plugin-runner/pkg/http"
	"github.com/apache/apisix-go-plugin-runner/pkg/log"
	"github.com/apache/apisix-go-plugin-runner/pkg/plugin"
)

func allPlugins() []plugin.Plugin {
	return []plugin.Plugin{
		&stopPlugin{}, &rewritePlugin{}, &varsPlugin{}, &echoBodyPlugin{},
		&requestInfoPlugin{}, &noopPlugin{}, &respPlugin{}, &failPlugin{}, &readBodyPlugin{},
		&slowPlugin{}, &exitPlugin{},
	}
}

// decodeConf fills v from a JSON conf. An empty conf means "all defaults".
// A returned error makes the runner log it and leave the plugin out of the
// token's plugin list (it is skipped silently at call time).
func decodeConf(in []byte, v interface{}) error {
	if len(bytes.TrimSpace(in)) == 0 {
		return nil
	}
	return json.Unmarshal(in, v)
}

// pairs is a JSON list of [name, value] pairs; order and repeats are kept.
type pairs [][]string

func (p pairs) check() error {
	for i, e := range p {
		if len(e) != 2 {
			return fmt.Errorf("entry %d: want [name, value], got %d items", i, len(e))
		}
	}
	return nil
}

// sortedKeys gives map keys in a fixed order so that what we do (and so the
// order in which the runner learns about it) does not depend on map order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// multiPairs flattens a multi-valued map (http.Header, url.Values) into
// [name, value] pairs: names sorted, each name's values in their order.
func multiPairs(m map[string][]string) [][2]string {
	out := [][2]string{}
	for _, k := range sortedKeys(m) {
		for _, v := range m[k] {
			out = append(out, [2]string{k, v})
		}
	}
	return out
}

// optBytes renders an ExtraInfo result: JSON null when the gateway left the
// result field out, else the bytes as a string. The flatbuffers Go accessor
// (ResultBytes) returns nil for an absent vector and a non-nil empty slice
// for a present empty one, and the runner passes that slice on untouched.
func optBytes(b []byte) interface{} {
	if b == nil {
		return nil
	}
	return string(b)
}

func writeJSON(w http.ResponseWriter, v interface{}) {
	body, err := json.Marshal(v)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(err.Error()))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// ---- stop -----------------------------------------------------------------

type stopConf struct {
	Status  int    `json:"status"`
	Headers pairs  `json:"headers"`
	Body    string `json:"body"`
}

type stopPlugin struct{ plugin.DefaultPlugin }

func (*stopPlugin) Name() string { return "stop" }

func (*stopPlugin) ParseConf(in []byte) (interface{}, error) {
	c := &stopConf{}
	if err := decodeConf(in, c); err != nil {
		return nil, err
	}
	return c, c.Headers.check()
}

// RequestFilter: the runner only answers with a Stop when a status was
// written or Write was called; headers alone are dropped (see README).
func (*stopPlugin) RequestFilter(conf interface{}, w http.ResponseWriter, r pkgHTTP.Request) {
	c := conf.(*stopConf)
	for _, h := range c.Headers {
		w.Header().Add(h[0], h[1])
	}
	if c.Status != 0 {
		w.WriteHeader(c.Status)
	}
	if c.Body != "" {
		_, _ = w.Write([]byte(c.Body))
	}
}

// ---- rewrite --------------------------------------------------------------

type rewriteConf struct {
	Path        *string            `json:"path"`
	Headers     map[string]*string `json:"headers"`
	Args        map[string]*string `json:"args"`
	ArgsAdd     pairs              `json:"args_add"`
	RespHeaders pairs              `json:"resp_headers"`
	Body        *string            `json:"body"`
}

type rewritePlugin struct{ plugin.DefaultPlugin }

func (*rewritePlugin) Name() string { return "rewrite" }

func (*rewritePlugin) ParseConf(in []byte) (interface{}, error) {
	c := &rewriteConf{}
	if err := decodeConf(in, c); err != nil {
		return nil, err
	}
	if err := c.ArgsAdd.check(); err != nil {
		return nil, fmt.Errorf("args_add: %w", err)
	}
	if err := c.RespHeaders.check(); err != nil {
		return nil, fmt.Errorf("resp_headers: %w", err)
	}
	return c, nil
}

// bodySetter is Request.SetBody, which runner releases after v0.5.0 have.
// Asserting it at run time lets this file build against either.
type bodySetter interface{ SetBody([]byte) }

// RequestFilter touches Header()/Args()/RespHeader() only when the conf asks
// for it: merely calling them makes the runner send a Rewrite with an empty
// vector for that field.
func (*rewritePlugin) RequestFilter(conf interface{}, w http.ResponseWriter, r pkgHTTP.Request) {
	c := conf.(*rewriteConf)
	if c.Path != nil {
		r.SetPath([]byte(*c.Path))
	}
	if len(c.Headers) > 0 {
		hdr := r.Header()
		for _, name := range sortedKeys(c.Headers) {
			if v := c.Headers[name]; v == nil {
				hdr.Del(name)
			} else {
				hdr.Set(name, *v)
			}
		}
	}
	if len(c.Args) > 0 || len(c.ArgsAdd) > 0 {
		args := r.Args()
		for _, name := range sortedKeys(c.Args) {
			if v := c.Args[name]; v == nil {
				args.Del(name)
			} else {
				args.Set(name, *v)
			}
		}
		for _, a := range c.ArgsAdd {
			args.Add(a[0], a[1])
		}
	}
	if len(c.RespHeaders) > 0 {
		rh := r.RespHeader()
		for _, h := range c.RespHeaders {
			rh.Add(h[0], h[1])
		}
	}
	if c.Body != nil {
		if bs, ok := r.(bodySetter); ok {
			bs.SetBody([]byte(*c.Body))
		} else {
			log.Errorf("rewrite: this runner version has no Request.SetBody; body ignored")
		}
	}
}

// ---- vars -----------------------------------------------------------------

type varsConf struct {
	Names []string `json:"names"`
}

type varGetter interface {
	Var(name string) ([]byte, error)
}

// lookupVars asks the gateway for each name (one ExtraInfo Var round trip per
// distinct name; the runner caches answers per call, nil ones included).
func lookupVars(g varGetter, names []string) map[string]interface{} {
	out := make(map[string]interface{}, len(names))
	for _, name := range names {
		v, err := g.Var(name)
		if err != nil {
			out[name] = map[string]string{"error": err.Error()}
			continue
		}
		out[name] = optBytes(v)
	}
	return out
}

type varsPlugin struct{ plugin.DefaultPlugin }

func (*varsPlugin) Name() string { return "vars" }

func (*varsPlugin) ParseConf(in []byte) (interface{}, error) {
	c := &varsConf{}
	return c, decodeConf(in, c)
}

func (*varsPlugin) RequestFilter(conf interface{}, w http.ResponseWriter, r pkgHTTP.Request) {
	writeJSON(w, lookupVars(r, conf.(*varsConf).Names))
}

// ---- echo-body ------------------------------------------------------------

type echoBodyPlugin struct{ plugin.DefaultPlugin }

func (*echoBodyPlugin) Name() string { return "echo-body" }

func (*echoBodyPlugin) ParseConf(in []byte) (interface{}, error) { return struct{}{}, nil }

func (*echoBodyPlugin) RequestFilter(_ interface{}, w http.ResponseWriter, r pkgHTTP.Request) {
	body, err := r.Body()
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(err.Error()))
		return
	}
	w.Header().Set("X-Body-Length", fmt.Sprint(len(body)))
	w.Header().Set("X-Body-Absent", fmt.Sprint(body == nil))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// ---- read-body ------------------------------------------------------------

// readBodyPlugin reads the request body (ExtraInfo ReqBody) and lets the request go on,
// telling the upstream what it saw in request headers: the gateway must still deliver
// the body it fetched for the runner.
type readBodyPlugin struct{ plugin.DefaultPlugin }

func (*readBodyPlugin) Name() string { return "read-body" }

func (*readBodyPlugin) ParseConf(in []byte) (interface{}, error) { return struct{}{}, nil }

func (*readBodyPlugin) RequestFilter(_ interface{}, w http.ResponseWriter, r pkgHTTP.Request) {
	body, err := r.Body()
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(err.Error()))
		return
	}
	sum := sha256.Sum256(body)
	r.Header().Set("X-Runner-Body-Length", fmt.Sprint(len(body)))
	r.Header().Set("X-Runner-Body-Sha256", hex.EncodeToString(sum[:]))
}

// ---- request-info ---------------------------------------------------------

type rawConf struct{ Raw string }

type requestInfoPlugin struct{ plugin.DefaultPlugin }

func (*requestInfoPlugin) Name() string { return "request-info" }

func (*requestInfoPlugin) ParseConf(in []byte) (interface{}, error) {
	return &rawConf{Raw: string(in)}, nil
}

func (*requestInfoPlugin) RequestFilter(conf interface{}, w http.ResponseWriter, r pkgHTTP.Request) {
	var srcIP interface{}
	if ip := r.SrcIP(); ip != nil {
		srcIP = ip.String()
	}
	writeJSON(w, map[string]interface{}{
		"id":      r.ID(),
		"src_ip":  srcIP,
		"method":  r.Method(),
		"path":    string(r.Path()),
		"args":    multiPairs(r.Args()),
		"headers": multiPairs(r.Header().View()),
		"conf":    conf.(*rawConf).Raw,
	})
}

// ---- noop -----------------------------------------------------------------

type noopPlugin struct{ plugin.DefaultPlugin }

func (*noopPlugin) Name() string                             { return "noop" }
func (*noopPlugin) ParseConf(in []byte) (interface{}, error) { return struct{}{}, nil }

// ---- resp (response phase) ------------------------------------------------

type respConf struct {
	Status     int               `json:"status"`
	Headers    map[string]string `json:"headers"`
	ReadBody   bool              `json:"read_body"`
	Body       *string           `json:"body"`
	AppendBody *string           `json:"append_body"`
	Info       bool              `json:"info"`
	Vars       []string          `json:"vars"`
}

type respPlugin struct{ plugin.DefaultPlugin }

func (*respPlugin) Name() string { return "resp" }

func (*respPlugin) ParseConf(in []byte) (interface{}, error) {
	c := &respConf{}
	return c, decodeConf(in, c)
}

func (*respPlugin) ResponseFilter(conf interface{}, w pkgHTTP.Response) {
	c := conf.(*respConf)
	if c.Info {
		respInfo(c, w)
		return
	}
	if len(c.Headers) > 0 {
		hdr := w.Header()
		for _, name := range sortedKeys(c.Headers) {
			hdr.Set(name, c.Headers[name])
		}
	}
	if c.Status != 0 {
		w.WriteHeader(c.Status)
	}
	if c.ReadBody {
		body, err := w.ReadBody()
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(err.Error()))
			return
		}
		if c.AppendBody != nil {
			_, _ = w.Write(body)
			_, _ = w.Write([]byte(*c.AppendBody))
		}
	}
	if c.Body != nil {
		_, _ = w.Write([]byte(*c.Body))
	}
}

// respInfo answers with what the runner decoded from HTTPRespCall. Reading
// Header() alone makes the runner send an empty headers vector.
func respInfo(c *respConf, w pkgHTTP.Response) {
	info := map[string]interface{}{
		"status":  w.StatusCode(),
		"headers": multiPairs(w.Header().View()),
		"vars":    lookupVars(w, c.Vars),
	}
	if c.ReadBody {
		body, err := w.ReadBody()
		if err != nil {
			info["body"] = map[string]string{"error": err.Error()}
		} else {
			info["body"] = optBytes(body)
		}
	}
	out, err := json.Marshal(info)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(err.Error()))
		return
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// ---- fail -----------------------------------------------------------------

// The runner answers RPC_ERROR only when a handler returns an error; plugin
// filters cannot return one. The one plugin-reachable error path is the size
// check on the finished reply (util.MaxDataSize = 2<<24-1 = 33554431 bytes):
// a larger reply is replaced by Err.Resp{SERVICE_UNAVAILABLE}. A panic is
// recovered only at connection level: no reply at all, connection closed.
const (
	runnerMaxDataSize = 2<<24 - 1
	frameMaxLen       = 1<<24 - 1
)

type failConf struct {
	Mode string `json:"mode"` // "oversize" (default) | "panic" | "wrap"
}

type failPlugin struct{}

func (*failPlugin) Name() string { return "fail" }

func (*failPlugin) ParseConf(in []byte) (interface{}, error) {
	c := &failConf{Mode: "oversize"}
	if err := decodeConf(in, c); err != nil {
		return nil, err
	}
	switch c.Mode {
	case "oversize", "panic", "wrap":
		return c, nil
	}
	return nil, fmt.Errorf("unknown mode %q", c.Mode)
}

type writer interface {
	Write([]byte) (int, error)
}

func fail(c *failConf, w writer) {
	switch c.Mode {
	case "panic":
		panic("fail plugin: deliberate panic")
	case "oversize":
		_, _ = w.Write(make([]byte, runnerMaxDataSize+1))
	case "wrap":
		// Between the two limits the runner sends the reply, but its 24-bit
		// length field wraps: the header announces only the excess (about
		// 4 KiB) and the rest of the payload follows as garbage.
		_, _ = w.Write(make([]byte, frameMaxLen+4096))
	}
}

func (*failPlugin) RequestFilter(conf interface{}, w http.ResponseWriter, _ pkgHTTP.Request) {
	fail(conf.(*failConf), w)
}

func (*failPlugin) ResponseFilter(conf interface{}, w pkgHTTP.Response) {
	fail(conf.(*failConf), w)
}

// ---- slow -----------------------------------------------------------------

type slowConf struct {
	Ms int `json:"ms"`
}

type slowPlugin struct{}

func (*slowPlugin) Name() string { return "slow" }

func (*slowPlugin) ParseConf(in []byte) (interface{}, error) {
	c := &slowConf{}
	return c, decodeConf(in, c)
}

func (*slowPlugin) RequestFilter(conf interface{}, _ http.ResponseWriter, _ pkgHTTP.Request) {
	time.Sleep(time.Duration(conf.(*slowConf).Ms) * time.Millisecond)
}

func (*slowPlugin) ResponseFilter(conf interface{}, _ pkgHTTP.Response) {
	time.Sleep(time.Duration(conf.(*slowConf).Ms) * time.Millisecond)
}

// ---- exit -----------------------------------------------------------------

type exitConf struct {
	Code int `json:"code"`
}

type exitPlugin struct{}

func (*exitPlugin) Name() string { return "exit" }

func (*exitPlugin) ParseConf(in []byte) (interface{}, error) {
	c := &exitConf{}
	return c, decodeConf(in, c)
}

// os.Exit skips the runner's deferred cleanup: the socket file stays behind.
func (*exitPlugin) RequestFilter(conf interface{}, _ http.ResponseWriter, _ pkgHTTP.Request) {
	os.Exit(conf.(*exitConf).Code)
}

func (*exitPlugin) ResponseFilter(conf interface{}, _ pkgHTTP.Response) {
	os.Exit(conf.(*exitConf).Code)
}
