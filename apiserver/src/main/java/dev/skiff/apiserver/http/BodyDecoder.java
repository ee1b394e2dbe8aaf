package dev.skiff.apiserver.http;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.registry.ResourceDescriptor;

/**
 * Decodes request bodies in a binary media type into JSON objects
 * ({@code application/vnd.kubernetes.protobuf}: the {@code k8s\0} envelope around a
 * runtime.Unknown, kubectl 1.32's typed commands send it).
 */
public interface BodyDecoder {
  String mediaType();

  /**
   * The object, or throws ApiException 400 when the bytes do not decode. {@code expected} is the
   * resource the body was sent to, or null for subresource bodies of another kind (Scale, Binding).
   */
  ObjectNode decode(ResourceDescriptor expected, byte[] body);
}
