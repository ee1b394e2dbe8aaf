package dev.skiff.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.TaintBuilder;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FrameworkTest {
  static NodeInfo node(String name, String cpu) {
    NodeInfo ni = new NodeInfo(name);
    ni.setNode(Fixtures.node(name, "zone-a", cpu, Map.of()));
    return ni;
  }

  @Test
  void numFeasibleNodesToFindFollowsUpstream() {
    Framework f = new Framework(List.of(new NodeResourcesFit()), 0);
    assertThat(f.numFeasibleNodesToFind(50)).isEqualTo(50);
    assertThat(f.numFeasibleNodesToFind(100)).isEqualTo(100);
    assertThat(f.numFeasibleNodesToFind(1000)).isEqualTo(420);
    assertThat(f.numFeasibleNodesToFind(5000)).isEqualTo(500);
    assertThat(f.numFeasibleNodesToFind(10000)).isEqualTo(500);
    assertThat(new Framework(List.of(new NodeResourcesFit()), 100).numFeasibleNodesToFind(5000)).isEqualTo(5000);
  }

  @Test
  void tiesAreBrokenRoundRobin() {
    Framework f = new Framework(List.of(), 0);
    long[] scores = {5, 9, 9, 1, 9};
    assertThat(List.of(f.selectHost(scores), f.selectHost(scores), f.selectHost(scores), f.selectHost(scores)))
        .containsExactly(1, 2, 4, 1);
  }

  @Test
  void fitErrorMessageMatchesUpstream() {
    Map<String, Status> st = new LinkedHashMap<>();
    st.put("a", Status.unschedulable("Insufficient cpu"));
    st.put("b", Status.unresolvable("node(s) had untolerated taint {k: v}"));
    st.put("c", Status.unresolvable("node(s) had untolerated taint {k: v}"));
    Framework.FitError fe = new Framework.FitError(3, st, null);
    fe.postFilterMsg = "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.";
    assertThat(fe.getMessage()).isEqualTo("0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {k: v}. "
        + "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling..");
  }

  @Test
  void filtersReportUpstreamReasons() {
    NodeInfo small = node("small", "1");
    PodInfo big = new PodInfo(Fixtures.pod("ns", "p", "2").editMetadata().withUid("u").endMetadata().build());
    assertThat(new NodeResourcesFit().filter(new CycleState(), big, small).reasons()).containsExactly("Insufficient cpu");
    NodeInfo tainted = node("t", "8");
    var n = Fixtures.node("t", "zone-a", "8", Map.of());
    n.getSpec().setTaints(List.of(new TaintBuilder().withKey("dedicated").withValue("db").withEffect("NoExecute").build()));
    tainted.setNode(n);
    Status s = new TaintToleration().filter(new CycleState(), big, tainted);
    assertThat(s.code()).isEqualTo(Status.Code.UNSCHEDULABLE_AND_UNRESOLVABLE);
    assertThat(s.reasons()).containsExactly("node(s) had untolerated taint {dedicated: db}");
    var notReady = Fixtures.node("nr", "zone-a", "8", Map.of());
    notReady.getStatus().getConditions().get(0).setStatus("False");
    NodeInfo nr = new NodeInfo("nr");
    nr.setNode(notReady);
    assertThat(new NodeConditions().filter(new CycleState(), big, nr).reasons())
        .containsExactly("node(s) had untolerated taint {node.kubernetes.io/not-ready: }");
  }

  @Test
  void leastAllocatedAndBalancedScores() {
    NodeInfo ni = node("n", "4");
    PodInfo p = new PodInfo(Fixtures.pod("ns", "p", "1").editMetadata().withUid("u").endMetadata().build());
    // cpu (4000-1000)/4000 = 75; memory: 64Gi minus the 200Mi non-zero default.
    long mem = (64L * 1024 * 1024 * 1024 - PodInfo.DEFAULT_MEMORY) * 100 / (64L * 1024 * 1024 * 1024);
    assertThat(new NodeResourcesFit().score(new CycleState(), p, ni)).isEqualTo((75 + mem) / 2);
    // fractions 0.25 and 0: (1 - 0.125) * 100
    assertThat(new BalancedAllocation().score(new CycleState(), p, ni)).isEqualTo(87);
  }
}
