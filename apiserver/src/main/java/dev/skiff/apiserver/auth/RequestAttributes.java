package dev.skiff.apiserver.auth;

/**
 * What a request asks to do, as kube-apiserver's authorizer.Attributes: for resource requests the
 * verb (get, list, watch, create, update, patch, delete, deletecollection), API group, resource,
 * subresource, namespace and name; otherwise the HTTP path and the lower-case HTTP verb.
 */
public record RequestAttributes(
    boolean resourceRequest,
    String verb,
    String apiGroup,
    String apiVersion,
    String resource,
    String subresource,
    String namespace,
    String name,
    String path) {}
