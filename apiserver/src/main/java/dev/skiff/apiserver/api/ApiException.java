package dev.skiff.apiserver.api;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * A failed API call, carrying the {@code metav1.Status} kube-apiserver would answer with. Messages
 * follow apimachinery pkg/api/errors/errors.go word for word, because kubectl prints them as they
 * are and users (and scripts) match on them.
 */
public final class ApiException extends RuntimeException {
  private final int code;
  private final String reason;
  private final ObjectNode details;

  public ApiException(int code, String reason, String message, ObjectNode details) {
    super(message, null, false, false);
    this.code = code;
    this.reason = reason;
    this.details = details;
  }

  public int code() {
    return code;
  }

  public String reason() {
    return reason;
  }

  /** The Status object as JSON. */
  public ObjectNode status() {
    ObjectNode s = Json.object();
    s.put("kind", "Status");
    s.put("apiVersion", "v1");
    s.putObject("metadata");
    s.put("status", "Failure");
    s.put("message", getMessage());
    if (reason != null && !reason.isEmpty()) {
      s.put("reason", reason);
    }
    if (details != null && !details.isEmpty()) {
      s.set("details", details);
    }
    s.put("code", code);
    return s;
  }

  /** "deployments.apps" or "pods": how kube-apiserver names a resource in messages. */
  public static String qualified(String group, String resource) {
    return group == null || group.isEmpty() ? resource : resource + "." + group;
  }

  private static ObjectNode details(String name, String group, String kind) {
    ObjectNode d = Json.object();
    if (name != null && !name.isEmpty()) {
      d.put("name", name);
    }
    if (group != null && !group.isEmpty()) {
      d.put("group", group);
    }
    if (kind != null) {
      d.put("kind", kind);
    }
    return d;
  }

  public static ApiException notFound(String group, String resource, String name) {
    return new ApiException(404, "NotFound",
        qualified(group, resource) + " \"" + name + "\" not found", details(name, group, resource));
  }

  public static ApiException alreadyExists(String group, String resource, String name) {
    return new ApiException(409, "AlreadyExists",
        qualified(group, resource) + " \"" + name + "\" already exists", details(name, group, resource));
  }

  public static ApiException conflict(String group, String resource, String name, String why) {
    return new ApiException(409, "Conflict",
        "Operation cannot be fulfilled on " + qualified(group, resource) + " \"" + name + "\": " + why,
        details(name, group, resource));
  }

  /** The optimistic-lock conflict (apiserver pkg/registry/generic/registry/store.go). */
  public static ApiException modified(String group, String resource, String name) {
    return conflict(group, resource, name,
        "the object has been modified; please apply your changes to the latest version and try again");
  }

  public static ApiException badRequest(String message) {
    return new ApiException(400, "BadRequest", message, null);
  }

  public static ApiException forbidden(String message) {
    return new ApiException(403, "Forbidden", message, null);
  }

  public static ApiException unauthorized() {
    return new ApiException(401, "Unauthorized", "Unauthorized", null);
  }

  public static ApiException methodNotAllowed(String message) {
    return new ApiException(405, "MethodNotAllowed", message, null);
  }

  public static ApiException notAcceptable(String message) {
    return new ApiException(406, "NotAcceptable", message, null);
  }

  public static ApiException unsupportedMediaType(String message) {
    return new ApiException(415, "UnsupportedMediaType", message, null);
  }

  public static ApiException tooLarge(String message) {
    return new ApiException(413, "RequestEntityTooLarge", message, null);
  }

  public static ApiException gone(String message) {
    return new ApiException(410, "Gone", message, null);
  }

  public static ApiException expired(String message) {
    return new ApiException(410, "Expired", message, null);
  }

  public static ApiException internal(String message) {
    return new ApiException(500, "InternalError",
        "Internal error occurred: " + message, details(null, null, null));
  }

  public static ApiException timeout(String message, int retryAfterSeconds) {
    ObjectNode d = Json.object();
    d.put("retryAfterSeconds", retryAfterSeconds);
    return new ApiException(504, "Timeout", message, d);
  }

  public static ApiException serviceUnavailable(String message) {
    return new ApiException(503, "ServiceUnavailable", message, null);
  }

  /** A value already rendered the way Go's %#v prints it (maps, structs), printed as is. */
  public record GoValue(String text) {}

  /** One field problem for a 422 Invalid answer. */
  public record Cause(String type, String message, String field) {
    public static Cause required(String field) {
      return new Cause("FieldValueRequired", "Required value", field);
    }

    public static Cause invalid(String field, Object value, String detail) {
      return new Cause("FieldValueInvalid", "Invalid value: " + render(value) + ": " + detail, field);
    }

    public static Cause notSupported(String field, Object value, List<String> allowed) {
      StringBuilder sb = new StringBuilder("Unsupported value: ").append(render(value));
      if (!allowed.isEmpty()) {
        sb.append(": supported values: ");
        for (int i = 0; i < allowed.size(); i++) {
          sb.append(i == 0 ? "" : ", ").append('"').append(allowed.get(i)).append('"');
        }
      }
      return new Cause("FieldValueNotSupported", sb.toString(), field);
    }

    public static Cause forbidden(String field, String detail) {
      return new Cause("FieldValueForbidden", "Forbidden: " + detail, field);
    }

    public static Cause duplicate(String field, Object value) {
      return new Cause("FieldValueDuplicate", "Duplicate value: " + render(value), field);
    }

    public static Cause tooLong(String field, int max) {
      return new Cause("FieldValueTooLong", "Too long: may not be more than " + max + " bytes", field);
    }

    /** Go's %#v-ish rendering that field.Error uses: strings quoted, numbers bare. */
    static String render(Object value) {
      if (value == null) {
        return "null";
      }
      if (value instanceof GoValue g) {
        return g.text();
      }
      if (value instanceof String s) {
        return "\"" + s + "\"";
      }
      if (value instanceof com.fasterxml.jackson.databind.JsonNode n) {
        return n.isTextual() ? "\"" + n.asText() + "\"" : n.toString();
      }
      return String.valueOf(value);
    }
  }

  /**
   * 422 Invalid, as errors.NewInvalid: message {@code Kind.group "name" is invalid: [a, b]} (no
   * brackets for one cause), details.kind is the Kind, causes carry the field path.
   */
  public static ApiException invalid(String group, String kind, String name, List<Cause> causes) {
    StringBuilder msg = new StringBuilder(qualified(group, kind)).append(" \"").append(name).append("\" is invalid: ");
    if (causes.size() == 1) {
      Cause c = causes.get(0);
      msg.append(c.field()).append(": ").append(c.message());
    } else {
      msg.append('[');
      for (int i = 0; i < causes.size(); i++) {
        Cause c = causes.get(i);
        msg.append(i == 0 ? "" : ", ").append(c.field()).append(": ").append(c.message());
      }
      msg.append(']');
    }
    ObjectNode d = details(name, group, kind);
    ArrayNode arr = d.putArray("causes");
    for (Cause c : causes) {
      ObjectNode o = arr.addObject();
      o.put("reason", c.type());
      o.put("message", c.message());
      o.put("field", c.field());
    }
    return new ApiException(422, "Invalid", msg.toString(), d);
  }
}
