package dev.skiff.serving.gateway;

import com.sun.net.httpserver.HttpServer;
import dev.skiff.serving.autoscaler.GatewayStats;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * Publishes a gateway's measurements for the autoscaler's leader: {@code GET /.skiff/stats}
 * answers this gateway's {@link GatewayStats} as JSON (cumulative counters: reading never
 * resets them, so several readers do not disturb each other). Its own small listener, not the
 * gateway's public port: Routes own every path there, and the stats are for the cluster's
 * gateways only. Knative's activators push their stats to the autoscaler over a websocket
 * instead; here the leader pulls, so a gateway needs to know nothing about who leads.
 *
 * <p>Thread-safe; requests are served on virtual threads.
 */
final class StatsServer implements AutoCloseable {
  static final String PATH = "/.skiff/stats";

  private final HttpServer http;
  private final ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();

  private StatsServer(HttpServer http) {
    this.http = http;
  }

  /** Listens on {@code address:port} (0: a free port) and serves {@code stats}' current value. */
  static StatsServer start(String address, int port, Supplier<GatewayStats> stats) throws IOException {
    HttpServer http = HttpServer.create(new InetSocketAddress(address, port), 64);
    StatsServer s = new StatsServer(http);
    http.createContext(PATH, ex -> {
      try (ex) {
        if (!"GET".equals(ex.getRequestMethod()) || !PATH.equals(ex.getRequestURI().getPath())) {
          ex.sendResponseHeaders(ex.getRequestMethod().equals("GET") ? 404 : 405, -1);
          return;
        }
        byte[] body = stats.get().toJson();
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(200, body.length);
        try (OutputStream out = ex.getResponseBody()) {
          out.write(body);
        }
      }
    });
    http.setExecutor(s.threads);
    http.start();
    return s;
  }

  /** {@code host:port} as peers reach it. */
  String address() {
    InetSocketAddress a = http.getAddress();
    String host = a.getAddress().getHostAddress();
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
  }

  @Override
  public void close() {
    http.stop(0);
    threads.shutdownNow();
  }
}
