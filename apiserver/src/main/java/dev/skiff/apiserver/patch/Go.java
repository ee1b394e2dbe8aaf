package dev.skiff.apiserver.patch;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Helpers that reproduce Go behaviour the upstream patch code depends on: how {@code fmt} prints an
 * {@code interface{}} inside error messages, how {@code ==} compares decoded JSON values (all numbers
 * are float64), and {@code sort.SliceStable}, whose result matters because strategicpatch sorts with
 * a comparator that is not a strict weak order.
 */
final class Go {

    private Go() {}

    /** Decodes request bodies; trailing garbage is an error, as in Go's json.Unmarshal. */
    static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    /** Parses a JSON body; the message mimics encoding/json's where cheaply possible. */
    static JsonNode parse(byte[] body) {
        if (body == null || body.length == 0) {
            throw PatchException.badRequest("unexpected end of JSON input");
        }
        try {
            JsonNode n = MAPPER.readTree(body);
            if (n == null || n.isMissingNode()) {
                throw PatchException.badRequest("unexpected end of JSON input");
            }
            return n;
        } catch (JsonProcessingException e) {
            throw PatchException.badRequest("invalid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw PatchException.badRequest("invalid JSON: " + e.getMessage());
        }
    }

    /** The Go kinds a decoded JSON value can have; numbers are all float64. */
    enum Type { NIL, STRING, FLOAT64, BOOL, MAP, SLICE }

    static Type typeOf(JsonNode n) {
        if (n == null || n.isNull() || n.isMissingNode()) {
            return Type.NIL;
        }
        if (n.isObject()) {
            return Type.MAP;
        }
        if (n.isArray()) {
            return Type.SLICE;
        }
        if (n.isNumber()) {
            return Type.FLOAT64;
        }
        if (n.isBoolean()) {
            return Type.BOOL;
        }
        return Type.STRING;
    }

    /** {@code reflect.TypeOf(v)} as printed by {@code %s}, for mergepatch.ErrBadArgType. */
    static String typeName(JsonNode n) {
        return switch (typeOf(n)) {
            case NIL -> "%!s(<nil>)";
            case STRING -> "string";
            case FLOAT64 -> "float64";
            case BOOL -> "bool";
            case MAP -> "map[string]interface {}";
            case SLICE -> "[]interface {}";
        };
    }

    /** mergepatch.ErrBadArgType. */
    static PatchException badArgType(String expected, JsonNode actual) {
        return PatchException.internal("expected a " + expected + ", but received a " + typeName(actual));
    }

    /** mergepatch.ErrNoMergeKey. */
    static PatchException noMergeKey(JsonNode map, String key) {
        return PatchException.internal("map: " + format(map) + " does not contain declared merge key: " + key);
    }

    /**
     * Go {@code ==} on two interface{} values from encoding/json. Maps and slices would panic in Go;
     * we compare them structurally instead.
     */
    static boolean equal(JsonNode a, JsonNode b) {
        Type ta = typeOf(a);
        Type tb = typeOf(b);
        if (ta != tb) {
            return false;
        }
        return switch (ta) {
            case NIL -> true;
            case FLOAT64 -> a.doubleValue() == b.doubleValue();
            case STRING -> a.textValue().equals(b.textValue());
            case BOOL -> a.booleanValue() == b.booleanValue();
            case MAP, SLICE -> a.equals(b);
        };
    }

    /** {@code fmt.Sprintf("%v", v)} for a decoded JSON value. */
    static String format(JsonNode n) {
        StringBuilder sb = new StringBuilder();
        format(n, sb);
        return sb.toString();
    }

    private static void format(JsonNode n, StringBuilder sb) {
        switch (typeOf(n)) {
            case NIL -> sb.append("<nil>");
            case STRING -> sb.append(n.textValue());
            case BOOL -> sb.append(n.booleanValue());
            case FLOAT64 -> sb.append(formatFloat(n));
            case SLICE -> {
                sb.append('[');
                for (int i = 0; i < n.size(); i++) {
                    if (i > 0) {
                        sb.append(' ');
                    }
                    format(n.get(i), sb);
                }
                sb.append(']');
            }
            case MAP -> {
                // fmt prints maps with sorted keys.
                Map<String, JsonNode> sorted = new TreeMap<>();
                for (Map.Entry<String, JsonNode> e : n.properties()) {
                    sorted.put(e.getKey(), e.getValue());
                }
                sb.append("map[");
                boolean first = true;
                for (Map.Entry<String, JsonNode> e : sorted.entrySet()) {
                    if (!first) {
                        sb.append(' ');
                    }
                    first = false;
                    sb.append(e.getKey()).append(':');
                    format(e.getValue(), sb);
                }
                sb.append(']');
            }
        }
    }

    /** %v of a float64: integral values below 1e21 print without exponent or fraction. */
    private static String formatFloat(JsonNode n) {
        double d = n.doubleValue();
        if (d == Math.rint(d) && Math.abs(d) < 1e21) {
            return new BigDecimal(d).toBigInteger().toString();
        }
        return Double.toString(d);
    }

    /** fmt.Sprint of several slices, as in "list element types are not identical: %v". */
    static String formatAll(List<JsonNode> lists) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < lists.size(); i++) {
            if (i > 0) {
                sb.append(' ');
            }
            sb.append(lists.get(i) == null ? "[]" : format(lists.get(i)));
        }
        return sb.append(']').toString();
    }

    /** A "less" callback over positions of the list being sorted, as sort.SliceStable passes. */
    @FunctionalInterface
    interface Less {
        boolean less(JsonNode a, JsonNode b);
    }

    /**
     * Go's {@code sort.SliceStable} (insertion sort on blocks of 20, then SymMerge; Go
     * {@code sort/zsortfunc.go}). Reproduced exactly because strategicpatch's
     * {@code normalizeSliceOrder} comparator answers "true" for items missing from the order list,
     * which is not a valid ordering, so only Go's exact sequence of comparisons gives Go's result.
     */
    static void stableSort(List<JsonNode> data, Less less) {
        Sorter s = new Sorter(data, less);
        int n = data.size();
        int blockSize = 20;
        int a = 0;
        int b = blockSize;
        while (b <= n) {
            s.insertionSort(a, b);
            a = b;
            b += blockSize;
        }
        s.insertionSort(a, n);
        while (blockSize < n) {
            a = 0;
            b = 2 * blockSize;
            while (b <= n) {
                s.symMerge(a, a + blockSize, b);
                a = b;
                b += 2 * blockSize;
            }
            int m = a + blockSize;
            if (m < n) {
                s.symMerge(a, m, n);
            }
            blockSize *= 2;
        }
    }

    private record Sorter(List<JsonNode> data, Less cmp) {

        boolean less(int i, int j) {
            return cmp.less(data.get(i), data.get(j));
        }

        void swap(int i, int j) {
            JsonNode t = data.get(i);
            data.set(i, data.get(j));
            data.set(j, t);
        }

        void insertionSort(int a, int b) {
            for (int i = a + 1; i < b; i++) {
                for (int j = i; j > a && less(j, j - 1); j--) {
                    swap(j, j - 1);
                }
            }
        }

        void symMerge(int a, int m, int b) {
            if (m - a == 1) {
                int i = m;
                int j = b;
                while (i < j) {
                    int h = (i + j) >>> 1;
                    if (less(h, a)) {
                        i = h + 1;
                    } else {
                        j = h;
                    }
                }
                for (int k = a; k < i - 1; k++) {
                    swap(k, k + 1);
                }
                return;
            }
            if (b - m == 1) {
                int i = a;
                int j = m;
                while (i < j) {
                    int h = (i + j) >>> 1;
                    if (!less(m, h)) {
                        i = h + 1;
                    } else {
                        j = h;
                    }
                }
                for (int k = m; k > i; k--) {
                    swap(k, k - 1);
                }
                return;
            }
            int mid = (a + b) >>> 1;
            int n = mid + m;
            int start;
            int r;
            if (m > mid) {
                start = n - b;
                r = mid;
            } else {
                start = a;
                r = m;
            }
            int p = n - 1;
            while (start < r) {
                int c = (start + r) >>> 1;
                if (!less(p - c, c)) {
                    start = c + 1;
                } else {
                    r = c;
                }
            }
            int end = n - start;
            if (start < m && m < end) {
                rotate(start, m, end);
            }
            if (a < start && start < mid) {
                symMerge(a, start, mid);
            }
            if (mid < end && end < b) {
                symMerge(mid, end, b);
            }
        }

        void rotate(int a, int m, int b) {
            int i = m - a;
            int j = b - m;
            while (i != j) {
                if (i > j) {
                    swapRange(m - i, m, j);
                    i -= j;
                } else {
                    swapRange(m - i, m + j - i, i);
                    j -= i;
                }
            }
            swapRange(m - i, m, i);
        }

        void swapRange(int a, int b, int n) {
            for (int i = 0; i < n; i++) {
                swap(a + i, b + i);
            }
        }
    }

    static List<JsonNode> list(JsonNode array) {
        List<JsonNode> out = new ArrayList<>(array == null ? 0 : array.size());
        if (array != null) {
            array.forEach(out::add);
        }
        return out;
    }
}
