package interop.javarunner;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentSkipListSet;

import com.google.gson.annotations.SerializedName;
import org.apache.apisix.plugin.runner.A6Conf;
import org.apache.apisix.plugin.runner.A6ConfigWatcher;
import org.apache.apisix.plugin.runner.HttpRequest;
import org.apache.apisix.plugin.runner.HttpResponse;
import org.apache.apisix.plugin.runner.PostRequest;
import org.apache.apisix.plugin.runner.PostResponse;
import org.springframework.stereotype.Component;

/**
 * The test plugins. Same names and conf formats as test/interop/go-runner/plugins.go
 * wherever this runner's API can express them; README.md lists the differences.
 * Every class here is a Spring bean, which is how the runner finds its filters.
 */
final class Plugins {

    private Plugins() {
    }

    // ---- stop ---------------------------------------------------------------

    /** {"status": int, "headers": [["name","value"],…], "body": "…"}. */
    @Component
    static class Stop extends TestFilter<Stop.Conf> {
        static class Conf {
            int status;
            List<List<String>> headers;
            String body;
        }

        Stop() {
            super(Conf.class);
        }

        @Override
        public String name() {
            return "stop";
        }

        @Override
        protected void check(Conf c) {
            Json.checkPairs(c.headers, "headers");
        }

        // Any of the three turns the answer into a Stop (status 200 unless set).
        // Headers are kept in a map by the runner: one value per name, last wins.
        @Override
        protected boolean onRequest(Conf c, HttpRequest request, HttpResponse response) {
            boolean answered = false;
            if (c.headers != null) {
                for (List<String> h : c.headers) {
                    response.setHeader(h.get(0), h.get(1));
                    answered = true;
                }
            }
            if (c.status != 0) {
                response.setStatusCode(c.status);
                answered = true;
            }
            if (c.body != null && !c.body.isEmpty()) {
                response.setBody(c.body);
                answered = true;
            }
            return !answered;
        }
    }

    // ---- rewrite ------------------------------------------------------------

    /**
     * {"path": "…"?, "headers": {"name": "v" | null}, "args": {"name": "v" | null},
     * "args_add": [["n","v"],…], "resp_headers": [["n","v"],…], "body": "…"?}.
     */
    @Component
    static class Rewrite extends TestFilter<Rewrite.Conf> {
        static class Conf {
            String path;
            Map<String, String> headers;
            Map<String, String> args;
            @SerializedName("args_add")
            List<List<String>> argsAdd;
            @SerializedName("resp_headers")
            List<List<String>> respHeaders;
            String body;
        }

        Rewrite() {
            super(Conf.class);
        }

        @Override
        public String name() {
            return "rewrite";
        }

        @Override
        protected void check(Conf c) {
            Json.checkPairs(c.argsAdd, "args_add");
            Json.checkPairs(c.respHeaders, "resp_headers");
        }

        @Override
        protected boolean onRequest(Conf c, HttpRequest request, HttpResponse response) {
            if (c.path != null) {
                request.setPath(c.path);
            }
            if (c.headers != null) {
                // null value = delete: the runner sends the entry without a value
                new TreeMap<>(c.headers).forEach(request::setHeader);
            }
            if (c.args != null) {
                new TreeMap<>(c.args).forEach(request::setArg);
            }
            if (c.argsAdd != null) {
                // The runner keeps one value per arg name: the last one wins.
                for (List<String> a : c.argsAdd) {
                    request.setArg(a.get(0), a.get(1));
                }
            }
            if (c.respHeaders != null && !c.respHeaders.isEmpty()) {
                log.warn("rewrite: the Java runner 0.4.0 cannot send Rewrite.resp_headers; ignored");
            }
            if (c.body != null) {
                log.warn("rewrite: the Java runner 0.4.0 cannot send Rewrite.body; ignored");
            }
            return true;
        }
    }

    // ---- vars ---------------------------------------------------------------

    /**
     * {"names": ["server_addr", …]}. The runner asks for variables before any
     * filter runs, using the names each filter declares in requiredVars(), which
     * cannot see the conf. So this plugin declares every name of every "vars"
     * conf this process has been given (learnt at PrepareConf through
     * A6ConfigWatcher), and reports only its own conf's names.
     */
    @Component
    static class Vars extends TestFilter<Vars.Conf> implements A6ConfigWatcher {
        static class Conf {
            List<String> names;
        }

        private final Set<String> wanted = new ConcurrentSkipListSet<>();

        Vars() {
            super(Conf.class);
        }

        @Override
        public String name() {
            return "vars";
        }

        @Override
        public void watch(long confToken, A6Conf a6Conf) {
            String raw = a6Conf.get(name());
            if (raw == null) {
                return;
            }
            try {
                List<String> names = parse(raw).names;
                if (names != null) {
                    wanted.addAll(names);
                }
            } catch (RuntimeException e) {
                log.error("vars: bad conf {}: {}", raw, e.getMessage());
            }
        }

        @Override
        public List<String> requiredVars() {
            return wanted.isEmpty() ? null : new ArrayList<>(wanted);
        }

        @Override
        protected boolean onRequest(Conf c, HttpRequest request, HttpResponse response) {
            Map<String, String> out = new TreeMap<>();
            if (c.names != null) {
                for (String name : c.names) {
                    out.put(name, Json.text(request.getVars(name)));
                }
            }
            Json.stop(response, out);
            return false;
        }
    }

    // ---- echo-body ----------------------------------------------------------

    /** No conf. Stop 200 with X-Body-Length and the request body. */
    @Component
    static class EchoBody extends TestFilter<String> {
        EchoBody() {
            super(String.class);
        }

        @Override
        public String name() {
            return "echo-body";
        }

        // Static: every call of a chain holding this plugin asks for ReqBody,
        // in the response phase too.
        @Override
        public Boolean requiredBody() {
            return true;
        }

        @Override
        protected boolean onRequest(String conf, HttpRequest request, HttpResponse response) {
            byte[] body = Json.bytes(request.getBody());
            if (body == null) {
                body = new byte[0];
            }
            response.setHeader("X-Body-Length", String.valueOf(body.length));
            response.setStatusCode(200);
            // The runner only sends String bodies, UTF-8 encoded: a UTF-8 body
            // comes back unchanged, other bytes do not.
            if (body.length > 0) {
                response.setBody(new String(body, StandardCharsets.UTF_8));
            }
            return false;
        }
    }

    // ---- request-info -------------------------------------------------------

    /** Any conf, echoed back. Stop 200 JSON with what the runner decoded. */
    @Component
    static class RequestInfo extends TestFilter<String> {
        RequestInfo() {
            super(String.class);
        }

        @Override
        public String name() {
            return "request-info";
        }

        @Override
        protected boolean onRequest(String conf, HttpRequest request, HttpResponse response) {
            Map<String, Object> info = new TreeMap<>();
            info.put("id", request.getRequestId());
            info.put("src_ip", request.getSourceIP());
            info.put("method", request.getMethod().name());
            info.put("path", request.getPath());
            info.put("args", Json.pairs(request.getArgs()));
            info.put("headers", Json.pairs(request.getHeaders()));
            info.put("conf", conf);
            Json.stop(response, info);
            return false;
        }
    }

    // ---- noop ---------------------------------------------------------------

    /** Does nothing in either phase (action NONE / an empty HTTPRespCall.Resp). */
    @Component
    static class Noop extends TestFilter<String> {
        Noop() {
            super(String.class);
        }

        @Override
        public String name() {
            return "noop";
        }
    }

    // ---- resp (response phase) ----------------------------------------------

    /**
     * {"status": int?, "headers": {"n": "v"}, "read_body": bool, "body": "…"?,
     * "append_body": "…"?, "info": bool, "vars": ["name",…]}. Response phase only.
     */
    @Component
    static class Resp extends TestFilter<Resp.Conf> implements A6ConfigWatcher {
        static class Conf {
            int status;
            Map<String, String> headers;
            @SerializedName("read_body")
            boolean readBody;
            String body;
            @SerializedName("append_body")
            String appendBody;
            boolean info;
            List<String> vars;
        }

        private final Set<String> wanted = new ConcurrentSkipListSet<>();

        Resp() {
            super(Conf.class);
        }

        @Override
        public String name() {
            return "resp";
        }

        /** Same trick as "vars": declare the union of all "resp" confs' vars. */
        @Override
        public void watch(long confToken, A6Conf a6Conf) {
            String raw = a6Conf.get(name());
            if (raw == null) {
                return;
            }
            try {
                List<String> names = parse(raw).vars;
                if (names != null) {
                    wanted.addAll(names);
                }
            } catch (RuntimeException e) {
                log.error("resp: bad conf {}: {}", raw, e.getMessage());
            }
        }

        @Override
        public List<String> requiredVars() {
            return wanted.isEmpty() ? null : new ArrayList<>(wanted);
        }

        // Static, so "read_body" cannot switch it: every HTTPRespCall of a chain
        // holding this plugin asks for RespBody (and so would an HTTPReqCall).
        @Override
        public Boolean requiredRespBody() {
            return true;
        }

        @Override
        protected boolean onResponse(Conf c, PostRequest request, PostResponse response) {
            if (c.info) {
                Map<String, Object> info = new TreeMap<>();
                info.put("status", request.getUpstreamStatusCode());
                info.put("headers", Json.pairs(request.getUpstreamHeaders()));
                Map<String, String> vars = new TreeMap<>();
                if (c.vars != null) {
                    for (String name : c.vars) {
                        vars.put(name, Json.text(request.getVars(name)));
                    }
                }
                info.put("vars", vars);
                if (c.readBody) {
                    info.put("body", Json.text(request.getBody()));
                }
                response.setStatusCode(200);
                response.setBody(Json.write(info));
                return true;
            }
            if (c.headers != null) {
                new TreeMap<>(c.headers).forEach(response::setHeader);
            }
            if (c.status != 0) {
                response.setStatusCode(c.status);
            }
            StringBuilder body = null;
            if (c.readBody && c.appendBody != null) {
                body = new StringBuilder(String.valueOf(Json.text(request.getBody()))).append(c.appendBody);
            }
            if (c.body != null) {
                body = (body == null ? new StringBuilder() : body).append(c.body);
            }
            if (body != null) {
                response.setBody(body.toString());
            }
            return true;
        }
    }

    // ---- fail ---------------------------------------------------------------

    /**
     * {"mode": "oversize" (default) | "error" | "panic" | "wrap"}. Both phases.
     * This runner has no reply size check, so "oversize" cannot fail the way the Go
     * runner's does; it throws instead, which gives the same wire result
     * (RPC_ERROR SERVICE_UNAVAILABLE on an open connection).
     */
    @Component
    static class Fail extends TestFilter<Fail.Conf> {
        static class Conf {
            String mode = "oversize";
        }

        // 2^24 - 1 + 4096 bytes: the 24-bit length field wraps to about 4 KiB.
        private static final int WRAP_BODY = (1 << 24) - 1 + 4096;

        Fail() {
            super(Conf.class);
        }

        @Override
        public String name() {
            return "fail";
        }

        @Override
        protected void check(Conf c) {
            switch (String.valueOf(c.mode)) {
                case "oversize":
                case "error":
                case "panic":
                case "wrap":
                    return;
                default:
                    throw new IllegalArgumentException("unknown mode \"" + c.mode + "\"");
            }
        }

        private static String fail(Conf c) {
            switch (c.mode) {
                case "panic":
                    // Not an Exception: escapes the runner's handler and reaches
                    // Netty's exceptionCaught (ExceptionCaughtHandler).
                    throw new AssertionError("fail plugin: deliberate Error");
                case "wrap":
                    return "\0".repeat(WRAP_BODY);
                default:
                    throw new IllegalStateException("fail plugin: deliberate exception");
            }
        }

        @Override
        protected boolean onRequest(Conf c, HttpRequest request, HttpResponse response) {
            response.setBody(fail(c));
            return false;
        }

        @Override
        protected boolean onResponse(Conf c, PostRequest request, PostResponse response) {
            response.setBody(fail(c));
            return false;
        }
    }

    // ---- slow ---------------------------------------------------------------

    /**
     * {"ms": int}. Both phases. Sleeps on the Netty event loop thread, which also
     * serves the other connections assigned to that loop.
     */
    @Component
    static class Slow extends TestFilter<Slow.Conf> {
        static class Conf {
            int ms;
        }

        Slow() {
            super(Conf.class);
        }

        @Override
        public String name() {
            return "slow";
        }

        private static void sleep(Conf c) {
            try {
                Thread.sleep(c.ms);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        @Override
        protected boolean onRequest(Conf c, HttpRequest request, HttpResponse response) {
            sleep(c);
            return true;
        }

        @Override
        protected boolean onResponse(Conf c, PostRequest request, PostResponse response) {
            sleep(c);
            return true;
        }
    }

    // ---- exit ---------------------------------------------------------------

    /**
     * {"code": int}. Both phases. Runtime.halt: no shutdown hooks, no reply, the
     * socket file stays behind (like os.Exit in the Go runner).
     */
    @Component
    static class Exit extends TestFilter<Exit.Conf> {
        static class Conf {
            int code;
        }

        Exit() {
            super(Conf.class);
        }

        @Override
        public String name() {
            return "exit";
        }

        @Override
        protected boolean onRequest(Conf c, HttpRequest request, HttpResponse response) {
            Runtime.getRuntime().halt(c.code);
            return false;
        }

        @Override
        protected boolean onResponse(Conf c, PostRequest request, PostResponse response) {
            Runtime.getRuntime().halt(c.code);
            return false;
        }
    }
}
