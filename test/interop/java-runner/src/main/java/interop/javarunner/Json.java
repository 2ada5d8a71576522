package interop.javarunner;

import java.lang.reflect.InvocationTargetException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import org.apache.apisix.plugin.runner.HttpResponse;

/** JSON and byte helpers shared by the test plugins. */
final class Json {

    // Nulls are kept (they carry meaning in vars / request-info); no HTML escaping,
    // so the output reads like the Go runner's.
    static final Gson GSON = new GsonBuilder().serializeNulls().disableHtmlEscaping().create();

    private Json() {
    }

    /** Parses a JSON conf; blank text or {@code null} gives a default instance. */
    static <T> T parse(String text, Class<T> type) {
        T value = text.isBlank() ? null : GSON.fromJson(text, type);
        if (value != null) {
            return value;
        }
        try {
            return type.getDeclaredConstructor().newInstance();
        } catch (NoSuchMethodException | InstantiationException | IllegalAccessException
                 | InvocationTargetException e) {
            throw new IllegalStateException(e);
        }
    }

    static String write(Object value) {
        return GSON.toJson(value);
    }

    /**
     * The runner turns ExtraInfo results (vars, bodies) into a String with one
     * char per byte (0..255); absent and empty results both become "". This gives
     * the bytes back.
     */
    static byte[] bytes(String perByte) {
        return perByte == null ? null : perByte.getBytes(StandardCharsets.ISO_8859_1);
    }

    /** An ExtraInfo result as text: its bytes read as UTF-8. */
    static String text(String perByte) {
        return perByte == null ? null : new String(bytes(perByte), StandardCharsets.UTF_8);
    }

    /** Checks a JSON list of [name, value] pairs. */
    static void checkPairs(List<List<String>> pairs, String field) {
        if (pairs == null) {
            return;
        }
        for (int i = 0; i < pairs.size(); i++) {
            List<String> p = pairs.get(i);
            if (p == null || p.size() != 2 || p.get(0) == null) {
                throw new IllegalArgumentException(field + ": entry " + i + ": want [name, value]");
            }
        }
    }

    /** A one-value-per-name map as [name, value] pairs sorted by name. */
    static List<List<String>> pairs(Map<String, String> map) {
        List<List<String>> out = new ArrayList<>();
        if (map != null) {
            for (Map.Entry<String, String> e : new TreeMap<>(map).entrySet()) {
                List<String> pair = new ArrayList<>(2);
                pair.add(e.getKey());
                pair.add(e.getValue());
                out.add(pair);
            }
        }
        return out;
    }

    /** Answers the request with Stop 200 and a JSON body. */
    static void stop(HttpResponse response, Object body) {
        response.setHeader("Content-Type", "application/json");
        response.setStatusCode(200);
        response.setBody(write(body));
    }
}
