package dev.skiff.apiserver.http;

/**
 * A resource served by code rather than stored objects: access reviews, token requests, and
 * subresources such as pods/log that another component answers.
 */
@FunctionalInterface
public interface VirtualResource {
  void handle(Exchange ex, RequestInfo info) throws Exception;
}
