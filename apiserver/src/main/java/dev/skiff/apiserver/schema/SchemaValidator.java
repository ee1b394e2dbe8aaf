package dev.skiff.apiserver.schema;

import com.fasterxml.jackson.databind.JsonNode;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Checks a decoded object against its kind schema the way kube-apiserver's decoder does, and reports problems with
 * upstream's wording. It does not decide anything: the caller maps the {@code fieldValidation} query parameter
 * (Strict / Warn / Ignore) onto the problems (unknown fields are fatal only in Strict; type errors always are).
 *
 * <p>Upstream decodes into Go structs with sigs.k8s.io/json {@code UnmarshalStrict}: a type mismatch is a fatal
 * {@code *json.UnmarshalTypeError} (Go keeps only the first), unknown fields are collected as "strict" errors,
 * deduplicated and capped at 100 ({@code sigs.k8s.io/json/internal/golang/encoding/json/kubernetes_patch.go}), and
 * joined by {@code apimachinery pkg/runtime/error.go} into {@code strict decoding error: unknown field "a", ...}.
 */
public final class SchemaValidator {
    // apimachinery pkg/api/resource/quantity.go splitREString / ErrFormatWrong
    private static final Pattern QUANTITY = Pattern.compile("^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$");
    static final String QUANTITY_ERROR =
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
    private static final int MAX_UNKNOWN = 100;
    private static final String RAW_EXTENSION = "io.k8s.apimachinery.pkg.runtime.RawExtension";
    private static final BigInteger INT32_MIN = BigInteger.valueOf(Integer.MIN_VALUE);
    private static final BigInteger INT32_MAX = BigInteger.valueOf(Integer.MAX_VALUE);
    private static final BigInteger INT64_MIN = BigInteger.valueOf(Long.MIN_VALUE);
    private static final BigInteger INT64_MAX = BigInteger.valueOf(Long.MAX_VALUE);

    private SchemaValidator() {
    }

    /** What is wrong at one place of the object. */
    public enum ProblemType { UNKNOWN_FIELD, WRONG_TYPE }

    /**
     * One problem. {@code path} is the strict-decoding path ({@code spec.template.spec.containers[0].foo});
     * {@code message} is upstream's text for it: {@code unknown field "spec.foo"} or
     * {@code json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32}.
     */
    public record Problem(ProblemType type, String path, String message) {
    }

    /** All problems found, in document order: type errors and unknown fields (deduplicated, at most 100). */
    public static List<Problem> validate(JsonNode object, SchemaNode kindSchema) {
        Walker w = new Walker();
        w.object(object, kindSchema, "", "", kindSchema.resolvedDefinitionName().map(SchemaValidator::shortName).orElse(""), true);
        return List.copyOf(w.problems);
    }

    /**
     * The 400 message kube-apiserver sends for these problems, or empty when there is nothing fatal under the given
     * mode. {@code strict} = fieldValidation=Strict (unknown fields are errors). Type errors win, as in upstream where
     * the decode fails before strict errors are looked at ({@code apiserver pkg/endpoints/handlers/rest.go}
     * {@code transformDecodeError}: {@code <Kind> in version "<v>" cannot be handled as a <Kind>: <err>}).
     */
    public static Optional<String> badRequestMessage(List<Problem> problems, String kind, String version, boolean strict) {
        for (Problem p : problems) {
            if (p.type() == ProblemType.WRONG_TYPE) {
                return Optional.of(kind + " in version \"" + version + "\" cannot be handled as a " + kind + ": " + p.message());
            }
        }
        if (strict) {
            List<String> unknown = unknownFieldMessages(problems);
            if (!unknown.isEmpty()) {
                return Optional.of("strict decoding error: " + String.join(", ", unknown));
            }
        }
        return Optional.empty();
    }

    /**
     * The warnings for fieldValidation=Warn, one per unknown field ({@code unknown field "spec.foo"}); upstream sends
     * each as a {@code Warning: 299 - "..."} header.
     */
    public static List<String> unknownFieldMessages(List<Problem> problems) {
        return problems.stream().filter(p -> p.type() == ProblemType.UNKNOWN_FIELD).map(Problem::message).collect(Collectors.toList());
    }

    private static final class Walker {
        final List<Problem> problems = new ArrayList<>();
        final Set<String> seenUnknown = new LinkedHashSet<>();

        /**
         * @param path     strict path with indices ("spec.containers[0]")
         * @param goField  Go error-context field stack, names only ("spec.containers")
         * @param goStruct innermost Go struct name holding the current field ("PodSpec")
         */
        void value(JsonNode v, SchemaNode s, String path, String goField, String goStruct) {
            if (v == null || v.isNull()) {
                return; // Go leaves the zero value for null
            }
            JsonNode r = s.resolvedJson();
            String format = s.format().orElse("");
            if (format.equals("quantity")) {
                // resource.Quantity.UnmarshalJSON parses the raw text of numbers and strings alike; its error has no context.
                String text = v.isTextual() ? v.textValue().trim() : v.isNumber() ? v.asText() : v.toString();
                if (!QUANTITY.matcher(text).matches()) {
                    typeError(path, QUANTITY_ERROR);
                }
                return;
            }
            if (s.isIntOrString()) {
                // intstr.IntOrString.UnmarshalJSON: strings are taken as is, anything else is unmarshalled into int32.
                if (!v.isTextual()) {
                    scalar(v, "integer", "int32", path, goField, goStruct);
                }
                return;
            }
            String type = s.type().orElse(null);
            if (type == null || s.resolvedDefinitionName().filter(RAW_EXTENSION::equals).isPresent()) {
                return; // untyped (apiextensions JSON) or runtime.RawExtension, whose UnmarshalJSON takes any value
            }
            switch (type) {
                case "object" -> {
                    if (!v.isObject()) {
                        mismatch(v, goType(s), path, goField, goStruct);
                    } else {
                        String struct = r.has("properties") ? s.resolvedDefinitionName().map(SchemaValidator::shortName).orElse(goStruct) : goStruct;
                        object(v, s, path, goField, struct, false);
                    }
                }
                case "array" -> {
                    if (!v.isArray()) {
                        mismatch(v, goType(s), path, goField, goStruct);
                        return;
                    }
                    Optional<SchemaNode> items = s.items();
                    if (items.isEmpty()) {
                        return;
                    }
                    for (int i = 0; i < v.size(); i++) {
                        value(v.get(i), items.get(), path + "[" + i + "]", goField, goStruct);
                    }
                }
                default -> scalar(v, type, format, path, goField, goStruct);
            }
        }

        void object(JsonNode v, SchemaNode s, String path, String goField, String goStruct, boolean root) {
            JsonNode r = s.resolvedJson();
            JsonNode props = r.get("properties");
            Optional<SchemaNode> additional = s.additionalProperties();
            boolean preserve = s.preservesUnknownFields();
            if (props == null && additional.isEmpty()) {
                return; // free-form object
            }
            for (Map.Entry<String, JsonNode> e : v.properties()) {
                String key = e.getKey();
                String childPath = path.isEmpty() ? key : path + "." + key;
                JsonNode p = props == null ? null : props.get(key);
                if (p != null && p.isObject()) {
                    String childGoField = goField.isEmpty() ? key : goField + "." + key;
                    value(e.getValue(), s.child(p), childPath, childGoField, goStruct);
                } else if (additional.isPresent()) {
                    // map value: Go's error context keeps the enclosing struct and field; map keys are not added
                    value(e.getValue(), additional.get(), childPath, goField, goStruct);
                } else if (root && (key.equals("apiVersion") || key.equals("kind"))) {
                    // TypeMeta is always accepted, even by schemas that do not declare it
                } else if (!preserve) {
                    unknown(childPath);
                }
            }
        }

        void scalar(JsonNode v, String type, String format, String path, String goField, String goStruct) {
            switch (type) {
                case "string" -> {
                    if (!v.isTextual()) {
                        mismatch(v, format.equals("byte") ? "[]uint8" : "string", path, goField, goStruct);
                    }
                }
                case "boolean" -> {
                    if (!v.isBoolean()) {
                        mismatch(v, "bool", path, goField, goStruct);
                    }
                }
                case "integer" -> {
                    String goType = format.equals("int32") ? "int32" : "int64";
                    if (!v.isNumber()) {
                        mismatch(v, goType, path, goField, goStruct);
                    } else if (!fitsInteger(v, goType.equals("int32"))) {
                        goTypeError(path, "number " + v.asText(), goType, goField, goStruct);
                    }
                }
                case "number" -> {
                    if (!v.isNumber()) {
                        mismatch(v, "float64", path, goField, goStruct);
                    }
                }
                default -> {
                    // unknown scalar type: accept
                }
            }
        }

        static boolean fitsInteger(JsonNode v, boolean int32) {
            if (!v.isIntegralNumber()) {
                return false; // Go's strconv.ParseInt rejects "1.0" and "1e3"
            }
            BigInteger b = v.bigIntegerValue();
            return int32 ? b.compareTo(INT32_MIN) >= 0 && b.compareTo(INT32_MAX) <= 0
                    : b.compareTo(INT64_MIN) >= 0 && b.compareTo(INT64_MAX) <= 0;
        }

        void mismatch(JsonNode v, String goType, String path, String goField, String goStruct) {
            goTypeError(path, goValueKind(v), goType, goField, goStruct);
        }

        /** encoding/json UnmarshalTypeError.Error() with the error context Kubernetes' decoder fills in. */
        void goTypeError(String path, String value, String goType, String goField, String goStruct) {
            String where = goStruct.isEmpty() && goField.isEmpty() ? "Go value" : "Go struct field " + goStruct + "." + goField;
            typeError(path, "json: cannot unmarshal " + value + " into " + where + " of type " + goType);
        }

        void typeError(String path, String message) {
            problems.add(new Problem(ProblemType.WRONG_TYPE, path, message));
        }

        void unknown(String path) {
            if (seenUnknown.size() < MAX_UNKNOWN && seenUnknown.add(path)) {
                problems.add(new Problem(ProblemType.UNKNOWN_FIELD, path, "unknown field \"" + path + "\""));
            }
        }
    }

    /** Go's name for the JSON value kind in UnmarshalTypeError.Value. */
    private static String goValueKind(JsonNode v) {
        if (v.isTextual()) {
            return "string";
        }
        if (v.isBoolean()) {
            return "bool";
        }
        if (v.isNumber()) {
            return "number";
        }
        if (v.isArray()) {
            return "array";
        }
        return "object";
    }

    /** The Go type name upstream prints for a schema: int32, []v1.Container, map[string]string, v1.PodSpec... */
    static String goType(SchemaNode s) {
        String format = s.format().orElse("");
        if (format.equals("int-or-string")) {
            return "intstr.IntOrString";
        }
        if (format.equals("quantity")) {
            return "resource.Quantity";
        }
        String type = s.type().orElse("");
        return switch (type) {
            case "array" -> "[]" + s.items().map(SchemaValidator::goType).orElse("interface {}");
            case "object" -> {
                if (!s.resolvedJson().has("properties") && s.additionalProperties().isPresent()) {
                    yield "map[string]" + goType(s.additionalProperties().get());
                }
                yield s.resolvedDefinitionName().map(SchemaValidator::goQualifiedName).orElse("map[string]interface {}");
            }
            // metav1.Time.UnmarshalJSON decodes into a string first, so its type errors say "string"
            case "string" -> format.equals("byte") ? "[]uint8" : "string";
            case "integer" -> format.equals("int32") ? "int32" : "int64";
            case "number" -> "float64";
            case "boolean" -> "bool";
            default -> "interface {}";
        };
    }

    /** io.k8s.api.apps.v1.DeploymentSpec -> DeploymentSpec */
    static String shortName(String definition) {
        return definition.substring(definition.lastIndexOf('.') + 1);
    }

    /** io.k8s.api.apps.v1.DeploymentSpec -> v1.DeploymentSpec (Go's reflect.Type.String() of the struct) */
    static String goQualifiedName(String definition) {
        int last = definition.lastIndexOf('.');
        int pkg = definition.lastIndexOf('.', last - 1);
        return definition.substring(pkg + 1);
    }
}
