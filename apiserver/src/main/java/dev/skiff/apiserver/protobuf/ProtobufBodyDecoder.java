package dev.skiff.apiserver.protobuf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.http.BodyDecoder;
import dev.skiff.apiserver.http.Exchange;
import dev.skiff.apiserver.registry.ResourceDescriptor;
import dev.skiff.apiserver.schema.ApiSchemas;
import io.kubernetes.client.proto.Runtime;
import java.io.IOException;
import java.util.HexFormat;

/**
 * Decodes {@code application/vnd.kubernetes.protobuf} request bodies, which kubectl 1.32+ sends
 * for its typed commands (create namespace|configmap|secret|deployment..., auth can-i, create
 * token, drain), into the JSON object kube-apiserver would have decoded.
 *
 * <p>The body is the 4 bytes {@code k8s\0} followed by a runtime.Unknown whose typeMeta names the
 * kind and whose raw bytes are that kind's k8s.io/api generated.proto message (apimachinery
 * pkg/runtime/serializer/protobuf/protobuf.go). The decoded object carries apiVersion and kind
 * from the typeMeta, so the usual kind check and fieldValidation apply afterwards.
 *
 * <p>Virtual resources (reviews, token requests, eviction) read their bodies with
 * {@link #readObject(Exchange)}, or call {@link #decode(byte[])} when
 * {@link #isProtobuf(String) the Content-Type is protobuf}; {@code ApiServer.protobuf()} is the
 * server's instance.
 */
public final class ProtobufBodyDecoder implements BodyDecoder {
  public static final String MEDIA_TYPE = "application/vnd.kubernetes.protobuf";
  private static final byte[] MAGIC = {'k', '8', 's', 0};

  // runtime.Unknown {typeMeta = 1 {apiVersion = 1, kind = 2}, raw = 2, contentEncoding = 3, contentType = 4}.
  // Parsed as DynamicMessage: client-java-proto's generated classes are pre-22 gencode, which
  // protobuf-java logs as vulnerable (unbounded recursion) whenever they parse.
  private static final Descriptor UNKNOWN = Runtime.Unknown.getDescriptor();
  private static final FieldDescriptor UNKNOWN_TYPE_META = UNKNOWN.findFieldByNumber(1);
  private static final FieldDescriptor UNKNOWN_RAW = UNKNOWN.findFieldByNumber(2);
  private static final FieldDescriptor TYPE_META_API_VERSION = UNKNOWN_TYPE_META.getMessageType().findFieldByNumber(1);
  private static final FieldDescriptor TYPE_META_KIND = UNKNOWN_TYPE_META.getMessageType().findFieldByNumber(2);

  private final ProtoJson json;

  /** A decoder using the built-in schemas (only their field names and required lists are read). */
  public ProtobufBodyDecoder() {
    this(ApiSchemas.withBuiltins());
  }

  public ProtobufBodyDecoder(ApiSchemas schemas) {
    this.json = new ProtoJson(schemas, this::embedded);
  }

  /** True when a Content-Type header (parameters allowed) is the Kubernetes protobuf media type. */
  public static boolean isProtobuf(String contentType) {
    if (contentType == null) {
      return false;
    }
    int semi = contentType.indexOf(';');
    return (semi >= 0 ? contentType.substring(0, semi) : contentType).trim().equalsIgnoreCase(MEDIA_TYPE);
  }

  /**
   * The request body of a virtual resource (reviews, token requests, eviction) as an object,
   * whatever its media type: protobuf, JSON or YAML. Throws 400 when it does not decode, 415 for
   * other media types.
   */
  public ObjectNode readObject(Exchange ex) {
    String ct = ex.header("Content-Type");
    byte[] body = ex.body();
    if (isProtobuf(ct)) {
      return decode(body);
    }
    String type = ct == null ? "" : ct.split(";", 2)[0].trim().toLowerCase(java.util.Locale.ROOT);
    JsonNode n;
    try {
      if (type.equals("application/yaml")) {
        n = Json.yaml().readTree(body);
      } else if (type.equals("application/json") || type.isEmpty()) {
        n = Json.MAPPER.readTree(body);
      } else {
        throw ApiException.unsupportedMediaType("the body of the request was in an unknown format - "
            + "accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf");
      }
    } catch (IOException e) {
      throw ApiException.badRequest("error decoding request body: " + e.getMessage());
    }
    if (!(n instanceof ObjectNode obj)) {
      throw ApiException.badRequest("Object 'Kind' is missing in '" + (n == null ? "" : n.toString()) + "'");
    }
    return obj;
  }

  /** Loads the protobuf descriptors now rather than on the first protobuf request. */
  public static void warmUp() {
    ProtoTypes.load();
  }

  @Override
  public String mediaType() {
    return MEDIA_TYPE;
  }

  /**
   * The object in a k8s\0 envelope; apiVersion and kind come from its typeMeta. Throws a 400
   * ApiException when the bytes are not such an envelope or do not decode.
   */
  public ObjectNode decode(byte[] body) {
    return decode(null, body);
  }

  @Override
  public ObjectNode decode(ResourceDescriptor expected, byte[] body) {
    DynamicMessage unknown = envelope(expected, body);
    Message typeMeta = (Message) unknown.getField(UNKNOWN_TYPE_META);
    String apiVersion = (String) typeMeta.getField(TYPE_META_API_VERSION);
    String kind = (String) typeMeta.getField(TYPE_META_KIND);
    if (kind.isEmpty()) {
      throw fail(expected, null, "Object 'Kind' is missing in '" + summary(body) + "'");
    }
    Descriptor type = ProtoTypes.find(apiVersion, kind);
    if (type == null) {
      if (expected != null && expected.kind.equals(kind) && expected.apiVersion().equals(apiVersion)) {
        // A kind served here without a generated message (custom resources): kube-apiserver has no
        // protobuf serializer for it either.
        throw ApiException.unsupportedMediaType("the body of the request was in an unknown format - "
            + "accepted media types include: application/json, application/yaml, application/apply-patch+yaml");
      }
      throw fail(expected, kind, "no kind \"" + kind + "\" is registered for version \"" + apiVersion
          + "\" in scheme \"pkg/runtime/scheme.go:100\"");
    }
    DynamicMessage message;
    try {
      message = DynamicMessage.parseFrom(type, (ByteString) unknown.getField(UNKNOWN_RAW));
    } catch (InvalidProtocolBufferException e) {
      throw fail(expected, kind, e.getMessage());
    }
    ObjectNode out = Json.object();
    out.put("apiVersion", apiVersion);
    out.put("kind", kind);
    out.setAll(json.object(message));
    return out;
  }

  private static DynamicMessage envelope(ResourceDescriptor expected, byte[] body) {
    if (body.length < MAGIC.length || body[0] != MAGIC[0] || body[1] != MAGIC[1] || body[2] != MAGIC[2] || body[3] != MAGIC[3]) {
      String why = "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]";
      if (expected == null) {
        throw ApiException.badRequest(why);
      }
      // apiserver pkg/endpoints/handlers/rest.go transformDecodeError, for a body without a kind.
      throw ApiException.badRequest("the object provided is unrecognized (must be of type " + expected.kind + "): "
          + why + " (" + summary(body) + ")");
    }
    try {
      return DynamicMessage.parseFrom(UNKNOWN, CodedInputStream.newInstance(body, MAGIC.length, body.length - MAGIC.length));
    } catch (IOException e) {
      throw fail(expected, null, e.getMessage());
    }
  }

  /** A RawExtension's bytes: JSON as a rule, or a nested protobuf envelope. */
  private JsonNode embedded(byte[] raw) {
    if (raw.length >= MAGIC.length && raw[0] == MAGIC[0] && raw[1] == MAGIC[1] && raw[2] == MAGIC[2] && raw[3] == MAGIC[3]) {
      return decode(raw);
    }
    try {
      return Json.MAPPER.readTree(raw);
    } catch (IOException e) {
      throw ApiException.badRequest("error decoding embedded object: " + e.getMessage());
    }
  }

  /** apiserver's transformDecodeError: "Kind in version "v1" cannot be handled as a Kind: why". */
  private static ApiException fail(ResourceDescriptor expected, String kind, String why) {
    if (expected == null) {
      return ApiException.badRequest(why);
    }
    return ApiException.badRequest((kind == null ? expected.kind : kind) + " in version \"" + expected.version
        + "\" cannot be handled as a " + expected.kind + ": " + why);
  }

  /** apiserver's summarizeData: the first 30 bytes, as text for JSON and as hex otherwise. */
  private static String summary(byte[] body) {
    if (body.length == 0) {
      return "<empty>";
    }
    int n = Math.min(body.length, 30);
    String s = body[0] == '{' ? new String(body, 0, n, java.nio.charset.StandardCharsets.UTF_8)
        : HexFormat.of().formatHex(body, 0, n);
    return body.length > 30 ? s + " ..." : s;
  }
}
