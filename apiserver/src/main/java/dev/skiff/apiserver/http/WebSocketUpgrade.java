package dev.skiff.apiserver.http;

import dev.skiff.apiserver.api.ApiException;
import org.eclipse.jetty.websocket.api.Session;
import org.eclipse.jetty.websocket.server.ServerWebSocketContainer;

/**
 * Upgrades a request to WebSocket for handlers outside this package (pods/exec, pods/attach,
 * pods/portforward proxies): the subprotocol to accept and the listener for the session.
 */
public final class WebSocketUpgrade {
  private WebSocketUpgrade() {}

  /** Whether the request asks for a WebSocket upgrade. */
  public static boolean requested(Exchange ex) {
    return WebSocketWatch.requested(ex);
  }

  /**
   * Upgrades the exchange, accepting {@code subprotocol} (may be null); the listener then owns
   * the session. Throws when the request is not a valid upgrade.
   */
  public static void upgrade(Exchange ex, String subprotocol, Session.Listener listener) throws Exception {
    ServerWebSocketContainer container = ServerWebSocketContainer.get(ex.request.getContext());
    if (container == null) {
      throw ApiException.badRequest("websocket is not available");
    }
    boolean upgraded = container.upgrade((request, response, callback) -> {
      if (subprotocol != null) {
        response.setAcceptedSubProtocol(subprotocol);
      }
      return listener;
    }, ex.request, ex.response, ex.callback);
    if (!upgraded) {
      throw ApiException.badRequest("invalid websocket upgrade request");
    }
    ex.markStreamed(101);
  }
}
