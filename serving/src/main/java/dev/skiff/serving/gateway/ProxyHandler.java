package dev.skiff.serving.gateway;

import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * The gateway's Jetty front end: hands each request Jetty accepted (h2c clients, both prior
 * knowledge and {@code Upgrade: h2c}; every client with {@code gateway.frontend=jetty}) to the
 * shared request path ({@link RoutingProxy}) as a {@link JettyExchange}. Jetty runs the handler on
 * a virtual thread (it is "blocking", so Jetty dispatches it off the selector and both cores share
 * the work); the request path then blocks only that thread. Thread-safe.
 */
final class ProxyHandler extends Handler.Abstract {
  private final RoutingProxy proxy;

  ProxyHandler(RoutingProxy proxy) {
    this.proxy = proxy;
  }

  @Override
  public boolean handle(Request req, Response resp, Callback cb) {
    JettyExchange ex = new JettyExchange(req, resp, cb);
    if (Thread.currentThread().isVirtual()) {
      proxy.handle(ex);
    } else {
      Thread.ofVirtual().name("gateway-request").start(() -> proxy.handle(ex));
    }
    return true;
  }
}
