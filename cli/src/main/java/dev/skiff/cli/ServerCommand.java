package dev.skiff.cli;

import dev.skiff.apiserver.ApiServer;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "server", description = "Run the Skiff server: the API server on a durable embedded store.")
final class ServerCommand implements Callable<Integer> {
  /** How in-JVM components reach the API server unless {@code --set transport=} says otherwise. */
  static final String DEFAULT_TRANSPORT = "in-jvm";

  @Option(names = "--data-dir", description = "State directory (default: ${DEFAULT-VALUE}).", defaultValue = ".skiff")
  Path dataDir;

  @Option(names = "--port", description = "HTTPS port (default: ${DEFAULT-VALUE}; 0 picks a free port).", defaultValue = "6443")
  int port;

  @Option(names = "--bind-address", description = "Address to listen on (default: all).")
  String bindAddress;

  @Option(names = "--node-name", description = "This machine's node name (default: the host name).")
  String nodeName;

  @Option(names = "--disable", split = ",", description = "Components not to run (e.g. scheduler,controllers).")
  java.util.Set<String> disabled = new java.util.HashSet<>();

  @Option(names = "--set", description = "Component option, component.key=value (repeatable).")
  java.util.Map<String, String> options = new java.util.HashMap<>();

  @Option(names = "--simulate-nodes", description = "Register N simulated nodes whose pods run without processes (kwok-style).")
  int simulateNodes;

  @Option(names = "--service-cidr", description = "Services' clusterIP range (default: ${DEFAULT-VALUE}).", defaultValue = "10.43.0.0/16")
  String serviceCidr;

  @Option(names = "--service-node-port-range", description = "NodePort range (default: ${DEFAULT-VALUE}).", defaultValue = "30000-32767")
  String nodePortRange;

  @Option(names = "--cluster-cidr", description = "Pod network; each node gets a /24 of it (default: ${DEFAULT-VALUE}).", defaultValue = "10.42.0.0/16")
  String clusterCidr;

  @Option(names = "--advertise-address", description = "Address the kubernetes Service's endpoints carry (default: the host's address).")
  String advertiseAddress;

  @Override
  public Integer call() throws Exception {
    if (port < 0 || port > 65535) {
      System.err.println("skiff: --port must be between 0 and 65535, got " + port);
      return 2;
    }
    if (simulateNodes > 0) {
      options.put("simulate.nodes", Integer.toString(simulateNodes));
    }
    dev.skiff.apiserver.services.ServiceNetwork services;
    try {
      services = dev.skiff.apiserver.services.ServiceNetwork.parse(serviceCidr, nodePortRange);
    } catch (IllegalArgumentException e) {
      System.err.println("skiff: " + e.getMessage());
      return 2;
    }
    // Components (cluster DNS, node IPAM) learn the networks through their options.
    options.putIfAbsent("cluster-dns", services.address(10));
    options.putIfAbsent("service-cidr", services.cidr());
    options.putIfAbsent("cluster-cidr", clusterCidr);
    String transport = options.getOrDefault("transport", DEFAULT_TRANSPORT);
    if (!transport.equals("in-jvm") && !transport.equals("loopback")) {
      System.err.println("skiff: --set transport= takes in-jvm or loopback, got " + transport);
      return 2;
    }
    long t0 = System.nanoTime();
    ApiServer server;
    try {
      server = ApiServer.start(new ApiServer.Config(dataDir.toAbsolutePath(), port, bindAddress, services.cidr(),
          services.nodePortRange(), advertiseAddress));
    } catch (java.io.IOException e) {
      System.err.println("skiff: cannot start: " + e.getMessage());
      return 1;
    }
    try {
      NodeServing.forLocalAgent(server.pki(), dataDir.toAbsolutePath(),
          nodeName != null ? nodeName : ComponentRunner.hostName(), options);
    } catch (java.security.GeneralSecurityException | java.io.IOException e) {
      System.err.println("skiff: cannot issue the node agent's serving certificate: " + e.getMessage());
      server.close();
      return 1;
    }
    CountDownLatch stop = new CountDownLatch(1);
    // The components' client: straight into this JVM's API server, or over loopback TLS
    // (docs/runtime.md, "In-JVM transport", has the measurements behind the default).
    ComponentRunner components = new ComponentRunner(server.kubeconfig(),
        transport.equals("in-jvm") ? new InJvmApi(server) : null, dataDir.toAbsolutePath(),
        nodeName != null ? nodeName : ComponentRunner.hostName(), options, disabled);
    // Components start after the API server is ready and off the main thread: they never delay
    // /readyz, and one that fails to start is logged without taking the server down.
    Thread.ofVirtual().name("skiff-components").start(() -> components.start(Components.all()));
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      components.close();
      server.close();
      stop.countDown();
    }, "skiff-shutdown"));
    System.out.printf("skiff: serving on https://127.0.0.1:%d (ready in %d ms)%n", server.port(), (System.nanoTime() - t0) / 1_000_000);
    System.out.println("export KUBECONFIG=" + server.kubeconfig());
    System.out.flush();
    stop.await();
    return 0;
  }
}
