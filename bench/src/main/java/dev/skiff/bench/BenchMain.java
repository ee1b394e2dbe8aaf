package dev.skiff.bench;

/** Scenario benchmarks: {@code ./skiff bench NAME}; each prints one JSON line on stdout. */
public final class BenchMain {
  public static void main(String[] args) throws Exception {
    dev.skiff.kubelet.sandbox.ProcessLauncher.preferVfork(); // as `skiff server` does (cli Main)
    String name = args.length == 0 ? "" : args[0];
    switch (name) {
      case "start" -> StartBench.run(java.util.Arrays.copyOfRange(args, 1, args.length));
      case "transport" -> TransportBench.run();
      case "api-create" -> ApiCreateBench.run();
      case "api-list" -> ApiListBench.run();
      case "watch-fanout" -> WatchFanoutBench.run();
      case "authz" -> AuthzBench.run();
      case "api-apply" -> ApiApplyBench.run();
      case "job-1000" -> JobBench.run();
      case "pod-startup" -> PodStartupBench.run();
      case "exec" -> ExecBench.run();
      case "exec-tls" -> ExecBench.run(true);
      case "deploy-1000" -> DeployBench.run();
      case "real-pods" -> RealPodsBench.run();
      case "agent-memory" -> AgentMemoryBench.run();
      case "workloads" -> WorkloadsBench.run();
      case "scheduler" -> SchedulerBench.run(args);
      case "endpoints" -> EndpointsBench.run();
      case "proxy" -> ProxyBench.run(args);
      case "endpoint-propagation" -> EndpointPropagationBench.run(args);
      case "ksvc-ready" -> KsvcReadyBench.run();
      case "gateway" -> GatewayBench.run();
      case "cold-start" -> ColdStartBench.run();
      default -> {
        System.err.println("usage: skiff bench start [--set transport=loopback]|transport|api-create|api-list|watch-fanout|authz|api-apply|job-1000|pod-startup|exec|exec-tls|deploy-1000|real-pods|agent-memory|workloads|scheduler|endpoints|proxy|endpoint-propagation|ksvc-ready|gateway|cold-start");
        System.exit(2);
      }
    }
    System.exit(0);
  }
}
