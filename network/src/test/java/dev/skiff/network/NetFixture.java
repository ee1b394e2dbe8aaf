package dev.skiff.network;

import com.sun.net.httpserver.HttpServer;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.ServicePortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPortBuilder;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.BindException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.BooleanSupplier;

/** Test helpers: HTTP backends on loopback aliases, Services, hand-made EndpointSlices, raw HTTP. */
final class NetFixture {
  private NetFixture() {}

  /** A ClusterIP at random in 10.43.128.0/17 (other engineers' tests use other addresses). */
  static String randomClusterIp() {
    ThreadLocalRandom r = ThreadLocalRandom.current();
    return "10.43." + (128 + r.nextInt(128)) + "." + (1 + r.nextInt(254));
  }

  private static final java.util.Set<Integer> GIVEN_NODE_PORTS = java.util.concurrent.ConcurrentHashMap.newKeySet();

  /** A random NodePort, never the same twice in this JVM (a test class creates a dozen on one server). */
  static int randomNodePort() {
    while (true) {
      int p = 30000 + ThreadLocalRandom.current().nextInt(2768);
      if (GIVEN_NODE_PORTS.add(p)) {
        return p;
      }
    }
  }

  /** HTTP servers answering their own name, one per loopback address, all on the same port. */
  static final class Backends implements AutoCloseable {
    int port;
    final List<String> ips;
    final List<HttpServer> servers = new ArrayList<>();

    Backends(String... ips) throws IOException {
      this.ips = List.of(ips);
      IOException last = null;
      for (int attempt = 0; attempt < 20; attempt++) {
        int p = 20000 + ThreadLocalRandom.current().nextInt(9000);
        try {
          for (String ip : ips) {
            HttpServer s = HttpServer.create(new InetSocketAddress(ip, p), 50);
            s.createContext("/", ex -> {
              byte[] body = ip.getBytes(StandardCharsets.UTF_8);
              ex.sendResponseHeaders(200, body.length);
              try (OutputStream o = ex.getResponseBody()) {
                o.write(body);
              }
            });
            s.start();
            servers.add(s);
          }
          this.port = p;
          return;
        } catch (BindException e) {
          last = e;
          servers.forEach(s -> s.stop(0));
          servers.clear();
        }
      }
      throw last;
    }

    @Override
    public void close() {
      servers.forEach(s -> s.stop(0));
    }
  }

  static Service service(String name, String clusterIp, String type, List<ServicePort> ports) {
    return new ServiceBuilder().withMetadata(new ObjectMetaBuilder().withName(name).withNamespace("default").build())
        .withNewSpec().withClusterIP(clusterIp).withType(type).withPorts(ports).endSpec().build();
  }

  static ServicePort port(String name, int port, String protocol, Integer nodePort) {
    return new ServicePortBuilder().withName(name).withPort(port).withProtocol(protocol)
        .withTargetPort(new IntOrString(port)).withNodePort(nodePort).build();
  }

  static Endpoint endpoint(String ip, Boolean ready, Boolean serving, Boolean terminating) {
    return new EndpointBuilder().withAddresses(ip).withNewConditions().withReady(ready).withServing(serving)
        .withTerminating(terminating).endConditions().build();
  }

  static Endpoint ready(String ip) {
    return endpoint(ip, true, true, false);
  }

  static EndpointSlice slice(String name, String service, String portName, String protocol, int port, List<Endpoint> eps) {
    return new EndpointSliceBuilder()
        .withMetadata(new ObjectMetaBuilder().withName(name).withNamespace("default")
            .withLabels(Map.of(Slices.SERVICE_NAME_LABEL, service)).build())
        .withAddressType("IPv4")
        .withPorts(new EndpointPortBuilder().withName(portName).withProtocol(protocol).withPort(port).build())
        .withEndpoints(eps).build();
  }

  /** One HTTP/1.1 GET on a new connection; returns the body. */
  static String get(InetSocketAddress to) throws IOException {
    try (Socket s = new Socket()) {
      s.connect(to, 2000);
      s.setSoTimeout(5000);
      return exchange(s, true);
    }
  }

  /** Sends a GET on {@code s} and reads one response (Content-Length framed); returns the body. */
  static String exchange(Socket s, boolean close) throws IOException {
    OutputStream out = s.getOutputStream();
    out.write(("GET / HTTP/1.1\r\nHost: t\r\n" + (close ? "Connection: close\r\n" : "") + "\r\n")
        .getBytes(StandardCharsets.US_ASCII));
    out.flush();
    var in = s.getInputStream();
    StringBuilder head = new StringBuilder();
    int len = 0;
    while (true) {
      String line = readLine(in);
      if (line == null) {
        throw new IOException("connection closed in headers");
      }
      if (line.isEmpty()) {
        break;
      }
      head.append(line).append('\n');
      if (line.toLowerCase().startsWith("content-length:")) {
        len = Integer.parseInt(line.substring(15).trim());
      }
    }
    byte[] body = in.readNBytes(len);
    return new String(body, StandardCharsets.UTF_8);
  }

  private static String readLine(java.io.InputStream in) throws IOException {
    StringBuilder b = new StringBuilder();
    int c;
    while ((c = in.read()) >= 0) {
      if (c == '\n') {
        int n = b.length();
        return n > 0 && b.charAt(n - 1) == '\r' ? b.substring(0, n - 1) : b.toString();
      }
      b.append((char) c);
    }
    return b.isEmpty() ? null : b.toString();
  }

  /** This host's first non-loopback IPv4 address (the node address), else 127.0.0.1. */
  static String nodeIp() throws IOException {
    for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
      if (!nic.isUp() || nic.isLoopback() || nic.getName().startsWith(ClusterIpInterface.PREFIX)) {
        continue;
      }
      for (InetAddress a : Collections.list(nic.getInetAddresses())) {
        if (a instanceof Inet4Address && !a.isLoopbackAddress() && !a.isLinkLocalAddress()) {
          return a.getHostAddress();
        }
      }
    }
    return "127.0.0.1";
  }

  static void await(String what, BooleanSupplier cond) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (!cond.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what);
      }
      Thread.sleep(5);
    }
  }
}
