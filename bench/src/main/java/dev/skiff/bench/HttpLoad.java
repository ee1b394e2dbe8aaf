package dev.skiff.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A minimal keep-alive HTTP/1.1 backend and a closed-loop load generator (N connections, each
 * one request at a time), for the service proxy benchmarks. Deliberately tiny: the backend costs
 * little, so the proxy's share of the work shows.
 */
final class HttpLoad {
  private HttpLoad() {}

  /** Answers every request with 200 and its own name as the body; a platform thread per connection. */
  static final class Backend implements AutoCloseable {
    final ServerSocket server;
    final String name;
    private volatile boolean closed;

    Backend(String ip, int port, String name) throws IOException {
      this.name = name;
      server = new ServerSocket();
      server.setReuseAddress(true);
      server.bind(new InetSocketAddress(ip, port), 1024);
      Thread.ofPlatform().daemon().name("backend-" + name).start(this::accept);
    }

    int port() {
      return server.getLocalPort();
    }

    private void accept() {
      while (!closed) {
        try {
          Socket s = server.accept();
          Thread.ofPlatform().daemon().start(() -> serve(s));
        } catch (IOException e) {
          return;
        }
      }
    }

    private void serve(Socket s) {
      byte[] body = name.getBytes(StandardCharsets.US_ASCII);
      byte[] resp = ("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + body.length + "\r\n\r\n" + name)
          .getBytes(StandardCharsets.US_ASCII);
      try (s) {
        s.setTcpNoDelay(true);
        InputStream in = s.getInputStream();
        OutputStream out = s.getOutputStream();
        byte[] buf = new byte[8192];
        int have = 0;
        while (true) {
          int end = indexOf(buf, have, HEADER_END);
          while (end < 0) {
            int n = in.read(buf, have, buf.length - have);
            if (n < 0) {
              return;
            }
            have += n;
            end = indexOf(buf, have, HEADER_END);
          }
          boolean close = new String(buf, 0, end, StandardCharsets.US_ASCII).toLowerCase().contains("connection: close");
          out.write(resp);
          out.flush();
          if (close) {
            return;
          }
          int consumed = end + 4; // GET requests have no body
          System.arraycopy(buf, consumed, buf, 0, have - consumed);
          have -= consumed;
        }
      } catch (IOException e) {
        // client went away
      }
    }

    @Override
    public void close() throws IOException {
      closed = true;
      server.close();
    }
  }

  static final byte[] HEADER_END = {'\r', '\n', '\r', '\n'};

  static int indexOf(byte[] buf, int len, byte[] pat) {
    outer:
    for (int i = 0; i + pat.length <= len; i++) {
      for (int j = 0; j < pat.length; j++) {
        if (buf[i + j] != pat[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  /** Reads one response from {@code in} (Content-Length framed); returns its body. */
  static String readResponse(InputStream in, byte[] buf) throws IOException {
    int have = 0;
    int end;
    while ((end = indexOf(buf, have, HEADER_END)) < 0) {
      int n = in.read(buf, have, buf.length - have);
      if (n < 0) {
        throw new IOException("closed");
      }
      have += n;
    }
    String head = new String(buf, 0, end, StandardCharsets.US_ASCII);
    int i = head.toLowerCase().indexOf("content-length:");
    int eol = head.indexOf('\r', i);
    int len = Integer.parseInt(head.substring(i + 15, eol < 0 ? head.length() : eol).trim());
    int total = end + 4 + len;
    while (have < total) {
      int n = in.read(buf, have, buf.length - have);
      if (n < 0) {
        throw new IOException("closed");
      }
      have += n;
    }
    return new String(buf, end + 4, len, StandardCharsets.US_ASCII);
  }

  /** One GET on a new connection (Connection: close); the body, or null on any failure. */
  static String probe(InetSocketAddress to) {
    try (Socket s = new Socket()) {
      s.connect(to, 1000);
      s.setSoTimeout(1000);
      s.setTcpNoDelay(true);
      s.getOutputStream().write("GET / HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      return readResponse(s.getInputStream(), new byte[4096]);
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /** Result of a load run. */
  record Result(long requests, long errors, double seconds, long[] sortedLatencyNanos) {
    double rps() {
      return requests / seconds;
    }

    double p50Ms() {
      return Bench.pctMs(sortedLatencyNanos, 50);
    }

    double p99Ms() {
      return Bench.pctMs(sortedLatencyNanos, 99);
    }
  }

  /** Several runs as one: requests and seconds add up, latencies merge. */
  static Result merge(List<Result> runs) {
    long req = 0;
    long err = 0;
    double sec = 0;
    int n = 0;
    for (Result r : runs) {
      req += r.requests();
      err += r.errors();
      sec += r.seconds();
      n += r.sortedLatencyNanos().length;
    }
    long[] all = new long[n];
    int k = 0;
    for (Result r : runs) {
      System.arraycopy(r.sortedLatencyNanos(), 0, all, k, r.sortedLatencyNanos().length);
      k += r.sortedLatencyNanos().length;
    }
    Arrays.sort(all);
    return new Result(req, err, sec, all);
  }

  /**
   * {@code connections} keep-alive connections, each sending the next GET as soon as the previous
   * answer arrived, for {@code seconds} after {@code warmupSeconds}; latencies of the measured
   * window only.
   */
  static Result run(InetSocketAddress to, int connections, double warmupSeconds, double seconds) throws Exception {
    byte[] req = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
    long start = System.nanoTime();
    long measureFrom = start + (long) (warmupSeconds * 1e9);
    long deadline = measureFrom + (long) (seconds * 1e9);
    List<Thread> threads = new ArrayList<>();
    long[][] lat = new long[connections][];
    int[] counts = new int[connections];
    long[] errors = new long[connections];
    for (int c = 0; c < connections; c++) {
      int id = c;
      threads.add(Thread.ofPlatform().name("load-" + c).start(() -> {
        long[] mine = new long[1 << 20];
        int n = 0;
        byte[] buf = new byte[8192];
        while (System.nanoTime() < deadline) {
          try (Socket s = new Socket()) {
            s.setTcpNoDelay(true);
            s.connect(to, 2000);
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            InputStream in = s.getInputStream();
            long now;
            while ((now = System.nanoTime()) < deadline) {
              out.write(req);
              readResponse(in, buf);
              long done = System.nanoTime();
              if (now >= measureFrom) {
                if (n == mine.length) {
                  mine = Arrays.copyOf(mine, n * 2);
                }
                mine[n++] = done - now;
              }
            }
          } catch (IOException e) {
            errors[id]++;
          }
        }
        lat[id] = mine;
        counts[id] = n;
      }));
    }
    for (Thread t : threads) {
      t.join();
    }
    int total = 0;
    for (int c : counts) {
      total += c;
    }
    long[] all = new long[total];
    int k = 0;
    for (int c = 0; c < connections; c++) {
      System.arraycopy(lat[c], 0, all, k, counts[c]);
      k += counts[c];
    }
    Arrays.sort(all);
    long errs = Arrays.stream(errors).sum();
    return new Result(total, errs, seconds, all);
  }
}
