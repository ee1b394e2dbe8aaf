package dev.skiff.runtime;

import dev.skiff.apiserver.ApiServer;
import dev.skiff.apiserver.http.InProcessDispatcher;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;

/** Test copy of cli's InJvmApi (runtime cannot depend on cli). */
final class InJvmApi implements InProcessApi {
  private final InProcessDispatcher dispatcher;

  InJvmApi(ApiServer server) {
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
