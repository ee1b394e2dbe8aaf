package dev.skiff.cli;

import java.net.URI;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "agent", description = "Run a node agent on this machine that joins the cluster of a Skiff server.")
final class AgentCommand implements Callable<Integer> {
  @Option(names = "--server", required = true, description = "The server's URL, e.g. https://10.0.0.5:6443.")
  String server;

  @Option(names = "--token", required = true,
      description = "The server's node token (the content of <server data dir>/server/node-token).")
  String token;

  @Option(names = "--node-name", description = "This machine's node name (default: the host name).")
  String nodeName;

  @Option(names = "--data-dir", description = "State directory (default: ${DEFAULT-VALUE}).", defaultValue = ".skiff-agent")
  Path dataDir;

  @Option(names = "--disable", split = ",", description = "Components not to run.")
  java.util.Set<String> disabled = new java.util.HashSet<>();

  @Option(names = "--set", description = "Component option, component.key=value (repeatable).")
  java.util.Map<String, String> options = new java.util.HashMap<>();

  @Override
  public Integer call() throws Exception {
    String node = nodeName != null ? nodeName : ComponentRunner.hostName();
    URI uri;
    try {
      uri = URI.create(server.endsWith("/") ? server.substring(0, server.length() - 1) : server);
    } catch (IllegalArgumentException e) {
      System.err.println("skiff: --server is not a URL: " + server);
      return 2;
    }
    Path dir = dataDir.toAbsolutePath();
    Path kubeconfig;
    try {
      kubeconfig = NodeJoin.join(uri, token, node, dir, options);
    } catch (NodeJoin.JoinException e) {
      System.err.println("skiff: cannot join: " + e.getMessage());
      return 1;
    }
    CountDownLatch stop = new CountDownLatch(1);
    ComponentRunner components = new ComponentRunner(kubeconfig, dir, node, options, disabled);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      components.close();
      stop.countDown();
    }, "skiff-shutdown"));
    components.start(Components.agent());
    System.out.printf("skiff: node %s joined %s%n", node, uri);
    System.out.flush();
    stop.await();
    return 0;
  }
}
