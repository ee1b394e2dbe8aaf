package dev.skiff.apiserver.patch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/** Test helper: JSON literals written with single quotes for readability. */
final class Json {
    private static final ObjectMapper M = new ObjectMapper();

    private Json() {}

    static JsonNode j(String singleQuoted) {
        try {
            return M.readTree(singleQuoted.replace('\'', '"'));
        } catch (Exception e) {
            throw new IllegalArgumentException(singleQuoted, e);
        }
    }

    static byte[] b(String singleQuoted) {
        return singleQuoted.replace('\'', '"').getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }
}
