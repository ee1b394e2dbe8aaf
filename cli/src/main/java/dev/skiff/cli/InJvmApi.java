package dev.skiff.cli;

import dev.skiff.apiserver.ApiServer;
import dev.skiff.apiserver.http.InProcessDispatcher;
import dev.skiff.runtime.InProcessApi;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;

/**
 * Joins the runtime's in-JVM transport ({@link InProcessApi}) to this JVM's API server
 * ({@link InProcessDispatcher}): the one place that knows both, so components keep depending on
 * the runtime only. Thread-safe.
 */
public final class InJvmApi implements InProcessApi {
  private final InProcessDispatcher dispatcher;

  /** The in-JVM API of {@code server} (its handler, as reached at its port). */
  public InJvmApi(ApiServer server) {
    this.dispatcher = new InProcessDispatcher(server.handler(), "127.0.0.1:" + server.port());
  }

  @Override
  public void serve(Request request, Response response) {
    dispatcher.serve(request.method(), request.target(), request.headers(), request.body(),
        request.clientCertificates(), new InProcessDispatcher.Sink() {
          @Override
          public void head(int status, Map<String, List<String>> headers) {
            response.head(status, headers);
          }

          @Override
          public void write(ByteBuffer chunk) throws IOException {
            response.write(chunk);
          }

          @Override
          public void end() {
            response.end();
          }

          @Override
          public void fail(Throwable cause) {
            response.fail(cause);
          }

          @Override
          public void onCancel(Runnable r) {
            response.onCancel(r);
          }
        });
  }
}
