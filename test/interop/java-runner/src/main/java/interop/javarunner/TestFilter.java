package interop.javarunner;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.apisix.plugin.runner.HttpRequest;
import org.apache.apisix.plugin.runner.HttpResponse;
import org.apache.apisix.plugin.runner.PostRequest;
import org.apache.apisix.plugin.runner.PostResponse;
import org.apache.apisix.plugin.runner.filter.PluginFilter;
import org.apache.apisix.plugin.runner.filter.PluginFilterChain;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Base of the test plugins: JSON conf parsing (cached per conf text) and the
 * chain handling.
 *
 * <p>In this runner a filter decides itself whether the next one runs (by calling
 * the chain), and the interface's default methods do not call it. Mirroring the
 * Go runner, a plugin that answers (a Stop) ends the chain; every other case goes
 * on to the next plugin. The runner reads the conf of a plugin only at call time,
 * so a conf that does not parse is logged and the plugin is skipped then (the Go
 * runner drops it from the token's list at PrepareConf: same visible result).
 *
 * @param <C> the conf class; {@code String} means the raw conf text
 */
abstract class TestFilter<C> implements PluginFilter {

    protected final Logger log = LoggerFactory.getLogger(getClass());

    private final Class<C> confClass;
    // Test confs are few; no eviction needed.
    private final Map<String, C> parsed = new ConcurrentHashMap<>();

    protected TestFilter(Class<C> confClass) {
        this.confClass = confClass;
    }

    /** Parses a conf; an empty conf gives the defaults. Throws if it is invalid. */
    final C parse(String raw) {
        String text = raw == null ? "" : raw;
        C conf = parsed.get(text);
        if (conf == null) {
            conf = confClass == String.class ? confClass.cast(text) : Json.parse(text, confClass);
            check(conf);
            parsed.put(text, conf);
        }
        return conf;
    }

    /** Extra validation of a parsed conf; throws IllegalArgumentException. */
    protected void check(C conf) {
    }

    private C confOrNull(String raw) {
        try {
            return parse(raw);
        } catch (RuntimeException e) {
            log.error("{}: bad conf {}: {}", name(), raw, e.getMessage());
            return null;
        }
    }

    @Override
    public final void filter(HttpRequest request, HttpResponse response, PluginFilterChain chain) {
        C conf = confOrNull(request.getConfig(this));
        if (conf == null || onRequest(conf, request, response)) {
            chain.filter(request, response);
        }
    }

    @Override
    public final void postFilter(PostRequest request, PostResponse response, PluginFilterChain chain) {
        C conf = confOrNull(request.getConfig(this));
        if (conf == null || onResponse(conf, request, response)) {
            chain.postFilter(request, response);
        }
    }

    /** Request phase (HTTPReqCall). @return true to run the next plugin */
    protected boolean onRequest(C conf, HttpRequest request, HttpResponse response) {
        return true;
    }

    /** Response phase (HTTPRespCall). @return true to run the next plugin */
    protected boolean onResponse(C conf, PostRequest request, PostResponse response) {
        return true;
    }
}
