package dev.skiff.apiserver.table;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Table-driven checks of each built-in printer against what kube-apiserver's printers.go produces
 * for the same object. Objects are written with single quotes for readability.
 */
class TablePrintersTest {

  static final ObjectMapper M = new ObjectMapper();
  static final Instant NOW = Instant.parse("2024-06-01T12:00:00Z");
  static final String T10M = "2024-06-01T11:50:00Z";
  static final String T3D = "2024-05-29T12:00:00Z";

  static ObjectNode obj(String json) {
    try {
      return (ObjectNode) M.readTree(json.replace('\'', '"'));
    } catch (Exception e) {
      throw new IllegalArgumentException(e);
    }
  }

  static List<Object> row(Object... cells) {
    return new ArrayList<>(Arrays.asList(cells));
  }

  static List<Object> cells(String group, String resource, String json) {
    return TablePrinters.forResource(group, resource).cells(obj(json), NOW);
  }

  static String meta(String name) {
    return "'metadata':{'name':'" + name + "','creationTimestamp':'" + T10M + "'}";
  }

  // ---------------------------------------------------------------- pods

  static Stream<Arguments> pods() {
    return Stream.of(
        Arguments.of(
            "running, ready, 2 restarts without last state",
            "{" + meta("web") + ",'spec':{'containers':[{'name':'c'}],'nodeName':'node-1'},"
                + "'status':{'phase':'Running','podIPs':[{'ip':'10.0.0.5'}],"
                + "'conditions':[{'type':'Ready','status':'True'}],"
                + "'containerStatuses':[{'name':'c','ready':true,'restartCount':2,'state':{'running':{}}}]}}",
            row("web", "1/1", "Running", "2", "10m", "10.0.0.5", "node-1", "<none>", "<none>")),
        Arguments.of(
            "restarts with last termination",
            "{" + meta("web") + ",'spec':{'containers':[{'name':'c'}]},"
                + "'status':{'phase':'Running','containerStatuses':[{'name':'c','ready':true,'restartCount':3,"
                + "'state':{'running':{}},'lastState':{'terminated':{'exitCode':1,'finishedAt':'2024-06-01T11:55:00Z'}}}]}}",
            row("web", "1/1", "Running", "3 (5m ago)", "10m", "<none>", "<none>", "<none>", "<none>")),
        Arguments.of(
            "pending, container creating",
            "{" + meta("p") + ",'spec':{'containers':[{'name':'a'},{'name':'b'}]},"
                + "'status':{'phase':'Pending','containerStatuses':["
                + "{'name':'a','state':{'waiting':{'reason':'ContainerCreating'}}},"
                + "{'name':'b','state':{'waiting':{'reason':'ContainerCreating'}}}]}}",
            row("p", "0/2", "ContainerCreating", "0", "10m", "<none>", "<none>", "<none>", "<none>")),
        Arguments.of(
            "crash loop wins over running sibling",
            "{" + meta("p") + ",'spec':{'containers':[{'name':'a'},{'name':'b'}]},"
                + "'status':{'phase':'Running','containerStatuses':["
                + "{'name':'a','restartCount':5,'state':{'waiting':{'reason':'CrashLoopBackOff'}}},"
                + "{'name':'b','ready':true,'state':{'running':{}}}]}}",
            row("p", "1/2", "CrashLoopBackOff", "5", "10m", "<none>", "<none>", "<none>", "<none>")),
        Arguments.of(
            "completed",
            "{" + meta("job-x") + ",'spec':{'containers':[{'name':'a'}]},"
                + "'status':{'phase':'Succeeded','containerStatuses':["
                + "{'name':'a','state':{'terminated':{'exitCode':0,'reason':'Completed'}}}]}}",
            row("job-x", "0/1", "Completed", "0", "10m", "<none>", "<none>", "<none>", "<none>")),
        Arguments.of(
            "error exit",
            "{" + meta("p") + ",'spec':{'containers':[{'name':'a'}]},"
                + "'status':{'phase':'Failed','containerStatuses':["
                + "{'name':'a','state':{'terminated':{'exitCode':1,'reason':'Error'}}}]}}",
            row("p", "0/1", "Error", "0", "10m", "<none>", "<none>", "<none>", "<none>")),
        Arguments.of(
            "terminated without reason shows signal",
            "{" + meta("p") + ",'spec':{'containers':[{'name':'a'}]},"
                + "'status':{'phase':'Running','containerStatuses':["
                + "{'name':'a','state':{'terminated':{'exitCode':137,'signal':9}}}]}}",
            row("p", "0/1", "Signal:9", "0", "10m", "<none>", "<none>", "<none>", "<none>")),
        Arguments.of(
            "completed container but another still running and pod ready",
            "{" + meta("p") + ",'spec':{'containers':[{'name':'a'},{'name':'b'}]},"
                + "'status':{'phase':'Running','conditions':[{'type':'Ready','status':'True'}],'containerStatuses':["
                + "{'name':'a','state':{'terminated':{'exitCode':0,'reason':'Completed'}}},"
                + "{'name':'b','ready':true,'state':{'running':{}}}]}}",
            row("p", "1/2", "Running", "0", "10m", "<none>", "<none>", "<none>", "<none>")),
        Arguments.of(
            "completed container, running sibling, pod not ready",
            "{" + meta("p") + ",'spec':{'containers':[{'name':'a'},{'name':'b'}]},"
                + "'status':{'phase':'Running','containerStatuses':["
                + "{'name':'a','state':{'terminated':{'exitCode':0,'reason':'Completed'}}},"
                + "{'name':'b','ready':true,'state':{'running':{}}}]}}",
            row("p", "1/2", "NotReady", "0", "10m", "<none>", "<none>", "<none>", "<none>")),
        Arguments.of(
            "init container 0 of 1 running",
            "{" + meta("p") + ",'spec':{'initContainers':[{'name':'init'}],'containers':[{'name':'a'}]},"
                + "'status':{'phase':'Pending','initContainerStatuses':[{'name':'init','state':{'running':{}}}],"
                + "'containerStatuses':[{'name':'a','state':{'waiting':{'reason':'PodInitializing'}}}]}}",
            row("p", "0/1", "Init:0/1", "0", "10m", "<none>", "<none>", "<none>", "<none>")),
        Arguments.of(
            "second init container of two waiting with PodInitializing",
            "{" + meta("p") + ",'spec':{'initContainers':[{'name':'i1'},{'name':'i2'}],'containers':[{'name':'a'}]},"
                + "'status':{'phase':'Pending','initContainerStatuses':["
                + "{'name':'i1','state':{'terminated':{'exitCode':0,'reason':'Completed'}}},"
                + "{'name':'i2','state':{'waiting':{'reason':'PodInitializing'}}}]}}",
            row("p", "0/1", "Init:1/2", "0", "10m", "<none>", "<none>", "<none>", "<none>")),
        Arguments.of(
            "init container error",
            "{" + meta("p") + ",'spec':{'initContainers':[{'name':'init'}],'containers':[{'name':'a'}]},"
                + "'status':{'phase':'Pending','initContainerStatuses':[{'name':'init','restartCount':1,"
                + "'state':{'terminated':{'exitCode':1,'reason':'Error'}}}]}}",
            row("p", "0/1", "Init:Error", "1", "10m", "<none>", "<none>", "<none>", "<none>")),
        Arguments.of(
            "init container crash looping",
            "{" + meta("p") + ",'spec':{'initContainers':[{'name':'init'}],'containers':[{'name':'a'}]},"
                + "'status':{'phase':'Pending','initContainerStatuses':[{'name':'init','restartCount':4,"
                + "'state':{'waiting':{'reason':'CrashLoopBackOff'}}}]}}",
            row("p", "0/1", "Init:CrashLoopBackOff", "4", "10m", "<none>", "<none>", "<none>", "<none>")),
        Arguments.of(
            "init done, main container waiting PodInitializing",
            "{" + meta("p") + ",'spec':{'initContainers':[{'name':'init'}],'containers':[{'name':'a'}]},"
                + "'status':{'phase':'Pending','initContainerStatuses':["
                + "{'name':'init','state':{'terminated':{'exitCode':0,'reason':'Completed'}}}],"
                + "'containerStatuses':[{'name':'a','state':{'waiting':{'reason':'PodInitializing'}}}]}}",
            row("p", "0/1", "PodInitializing", "0", "10m", "<none>", "<none>", "<none>", "<none>")),
        Arguments.of(
            "sidecar counts towards ready",
            "{" + meta("p") + ",'spec':{'initContainers':[{'name':'proxy','restartPolicy':'Always'}],'containers':[{'name':'a'}]},"
                + "'status':{'phase':'Running','conditions':[{'type':'Initialized','status':'True'}],"
                + "'initContainerStatuses':[{'name':'proxy','started':true,'ready':true,'restartCount':1,'state':{'running':{}}}],"
                + "'containerStatuses':[{'name':'a','ready':true,'restartCount':1,'state':{'running':{}}}]}}",
            row("p", "2/2", "Running", "2", "10m", "<none>", "<none>", "<none>", "<none>")),
        Arguments.of(
            "terminating",
            "{'metadata':{'name':'p','creationTimestamp':'" + T10M + "','deletionTimestamp':'" + T10M + "'},"
                + "'spec':{'containers':[{'name':'a'}]},"
                + "'status':{'phase':'Running','containerStatuses':[{'name':'a','ready':true,'state':{'running':{}}}]}}",
            row("p", "1/1", "Terminating", "0", "10m", "<none>", "<none>", "<none>", "<none>")),
        Arguments.of(
            "node lost while deleting is Unknown",
            "{'metadata':{'name':'p','creationTimestamp':'" + T10M + "','deletionTimestamp':'" + T10M + "'},"
                + "'spec':{'containers':[{'name':'a'}]},'status':{'phase':'Running','reason':'NodeLost'}}",
            row("p", "0/1", "Unknown", "0", "10m", "<none>", "<none>", "<none>", "<none>")),
        Arguments.of(
            "pod reason wins: Evicted",
            "{" + meta("p") + ",'spec':{'containers':[{'name':'a'}]},'status':{'phase':'Failed','reason':'Evicted'}}",
            row("p", "0/1", "Evicted", "0", "10m", "<none>", "<none>", "<none>", "<none>")),
        Arguments.of(
            "scheduling gated",
            "{" + meta("p") + ",'spec':{'containers':[{'name':'a'}]},'status':{'phase':'Pending',"
                + "'conditions':[{'type':'PodScheduled','status':'False','reason':'SchedulingGated'}]}}",
            row("p", "0/1", "SchedulingGated", "0", "10m", "<none>", "<none>", "<none>", "<none>")),
        Arguments.of(
            "nominated node and readiness gates",
            "{" + meta("p") + ",'spec':{'containers':[{'name':'a'}],'readinessGates':[{'conditionType':'x/ok'},{'conditionType':'y/ok'}]},"
                + "'status':{'phase':'Pending','nominatedNodeName':'n2','conditions':[{'type':'x/ok','status':'True'}]}}",
            row("p", "0/1", "Pending", "0", "10m", "<none>", "<none>", "n2", "1/2")));
  }

  @ParameterizedTest(name = "pod: {0}")
  @MethodSource("pods")
  void pods(String what, String json, List<Object> expected) {
    assertThat(cells("", "pods", json)).isEqualTo(expected);
  }

  @Test
  void podColumns() {
    List<ColumnDefinition> cols = TablePrinters.forResource("", "pods").columns();
    assertThat(cols).extracting(ColumnDefinition::name)
        .containsExactly("Name", "Ready", "Status", "Restarts", "Age", "IP", "Node",
            "Nominated Node", "Readiness Gates");
    assertThat(cols).extracting(ColumnDefinition::priority).containsExactly(0, 0, 0, 0, 0, 1, 1, 1, 1);
    assertThat(cols.get(0).format()).isEqualTo("name");
    assertThat(cols.get(3).type()).isEqualTo("string");
    assertThat(cols.get(0).description()).startsWith("Name must be unique within a namespace.");
  }

  // ---------------------------------------------------------------- other kinds

  static Stream<Arguments> kinds() {
    String tmpl = "'template':{'spec':{'containers':[{'name':'nginx','image':'nginx:1.27'},{'name':'side','image':'busybox'}]}}";
    return Stream.of(
        Arguments.of("apps", "deployments",
            "{" + meta("web") + ",'spec':{'replicas':3,'selector':{'matchLabels':{'app':'web','tier':'fe'}}," + tmpl + "},"
                + "'status':{'readyReplicas':2,'updatedReplicas':3,'availableReplicas':2}}",
            row("web", "2/3", 3L, 2L, "10m", "nginx,side", "nginx:1.27,busybox", "app=web,tier=fe")),
        Arguments.of("apps", "deployments",
            "{" + meta("fresh") + ",'spec':{'selector':{'matchExpressions':[{'key':'env','operator':'In','values':['prod','dev']},{'key':'app','operator':'Exists'}]}," + tmpl + "}}",
            row("fresh", "0/1", 0L, 0L, "10m", "nginx,side", "nginx:1.27,busybox", "app,env in (dev,prod)")),
        Arguments.of("apps", "replicasets",
            "{" + meta("web-5d9c") + ",'spec':{'replicas':2,'selector':{'matchLabels':{'app':'web'}}," + tmpl + "},'status':{'replicas':2,'readyReplicas':1}}",
            row("web-5d9c", 2L, 2L, 1L, "10m", "nginx,side", "nginx:1.27,busybox", "app=web")),
        Arguments.of("apps", "statefulsets",
            "{" + meta("db") + ",'spec':{'replicas':3," + tmpl + "},'status':{'readyReplicas':3}}",
            row("db", "3/3", "10m", "nginx,side", "nginx:1.27,busybox")),
        Arguments.of("apps", "daemonsets",
            "{" + meta("agent") + ",'spec':{'selector':{'matchLabels':{'app':'agent'}},'template':{'spec':{'nodeSelector':{'kubernetes.io/os':'linux'},'containers':[{'name':'a','image':'agent:1'}]}}},"
                + "'status':{'desiredNumberScheduled':3,'currentNumberScheduled':3,'numberReady':2,'updatedNumberScheduled':3,'numberAvailable':2}}",
            row("agent", 3L, 3L, 2L, 3L, 2L, "kubernetes.io/os=linux", "10m", "a", "agent:1", "app=agent")),
        Arguments.of("", "replicationcontrollers",
            "{" + meta("rc") + ",'spec':{'replicas':2,'selector':{'app':'x'}," + tmpl + "},'status':{'replicas':2,'readyReplicas':2}}",
            row("rc", 2L, 2L, 2L, "10m", "nginx,side", "nginx:1.27,busybox", "app=x")),
        Arguments.of("apps", "controllerrevisions",
            "{'metadata':{'name':'db-7c9','creationTimestamp':'" + T10M + "','ownerReferences':[{'apiVersion':'apps/v1','kind':'StatefulSet','name':'db','controller':true}]},'revision':2}",
            row("db-7c9", "statefulset.apps/db", 2L, "10m")),
        Arguments.of("batch", "jobs",
            "{" + meta("pi") + ",'spec':{'completions':1,'parallelism':1,'selector':{'matchLabels':{'batch.kubernetes.io/controller-uid':'u1'}},'template':{'spec':{'containers':[{'name':'pi','image':'perl'}]}}},"
                + "'status':{'succeeded':1,'startTime':'2024-06-01T11:50:00Z','completionTime':'2024-06-01T11:50:42Z','conditions':[{'type':'Complete','status':'True'}]}}",
            row("pi", "Complete", "1/1", "42s", "10m", "pi", "perl", "batch.kubernetes.io/controller-uid=u1")),
        Arguments.of("batch", "jobs",
            "{" + meta("work") + ",'spec':{'parallelism':3,'template':{'spec':{'containers':[{'name':'w','image':'w'}]}}},"
                + "'status':{'succeeded':0,'startTime':'2024-06-01T11:55:00Z'}}",
            row("work", "Running", "0/1 of 3", "5m", "10m", "w", "w", "<none>")),
        Arguments.of("batch", "jobs",
            "{" + meta("s") + ",'spec':{'completions':2,'suspend':true,'template':{'spec':{'containers':[]}}},"
                + "'status':{'conditions':[{'type':'Suspended','status':'True'}]}}",
            row("s", "Suspended", "0/2", "", "10m", "", "", "<none>")),
        Arguments.of("batch", "jobs",
            "{" + meta("f") + ",'spec':{'completions':1},"
                + "'status':{'failed':7,'conditions':[{'type':'FailureTarget','status':'True'},{'type':'Failed','status':'True'}]}}",
            row("f", "Failed", "0/1", "", "10m", "", "", "<none>")),
        Arguments.of("batch", "cronjobs",
            "{" + meta("hello") + ",'spec':{'schedule':'*/1 * * * *','suspend':false,'jobTemplate':{'spec':{'template':{'spec':{'containers':[{'name':'hello','image':'busybox:1.28'}]}}}}},"
                + "'status':{'active':[{'name':'hello-1'}],'lastScheduleTime':'2024-06-01T11:59:00Z'}}",
            row("hello", "*/1 * * * *", "<none>", "False", 1L, "60s", "10m", "hello", "busybox:1.28", "<none>")),
        Arguments.of("batch", "cronjobs",
            "{" + meta("tz") + ",'spec':{'schedule':'0 0 * * *','timeZone':'Etc/UTC','jobTemplate':{'spec':{'template':{'spec':{}}}}}}",
            row("tz", "0 0 * * *", "Etc/UTC", "<unset>", 0L, "<none>", "10m", "", "", "<none>")),
        Arguments.of("", "services",
            "{" + meta("kubernetes") + ",'spec':{'type':'ClusterIP','clusterIP':'10.96.0.1','clusterIPs':['10.96.0.1'],'ports':[{'port':443,'protocol':'TCP','targetPort':6443}]}}",
            row("kubernetes", "ClusterIP", "10.96.0.1", "<none>", "443/TCP", "10m", "<none>")),
        Arguments.of("", "services",
            "{" + meta("np") + ",'spec':{'type':'NodePort','clusterIPs':['10.96.3.4'],'selector':{'app':'web'},'ports':[{'port':80,'nodePort':30080,'protocol':'TCP'},{'port':53,'protocol':'UDP'}]}}",
            row("np", "NodePort", "10.96.3.4", "<none>", "80:30080/TCP,53/UDP", "10m", "app=web")),
        Arguments.of("", "services",
            "{" + meta("lb") + ",'spec':{'type':'LoadBalancer','clusterIPs':['10.96.9.9'],'ports':[{'port':80,'nodePort':31000,'protocol':'TCP'}]},'status':{'loadBalancer':{}}}",
            row("lb", "LoadBalancer", "10.96.9.9", "<pending>", "80:31000/TCP", "10m", "<none>")),
        Arguments.of("", "services",
            "{" + meta("lb2") + ",'spec':{'type':'LoadBalancer','clusterIPs':['10.96.9.9'],'externalIPs':['1.1.1.1'],'ports':[]},"
                + "'status':{'loadBalancer':{'ingress':[{'ip':'203.0.113.9'},{'hostname':'a.example.com'}]}}}",
            row("lb2", "LoadBalancer", "10.96.9.9", "203.0.113.9,a.example.com,1.1.1.1", "<none>", "10m", "<none>")),
        Arguments.of("", "services",
            "{" + meta("ext") + ",'spec':{'type':'ExternalName','externalName':'db.example.com'}}",
            row("ext", "ExternalName", "<none>", "db.example.com", "<none>", "10m", "<none>")),
        Arguments.of("", "services",
            "{" + meta("headless") + ",'spec':{'type':'ClusterIP','clusterIPs':['None'],'ports':[{'port':5432,'protocol':'TCP'}]}}",
            row("headless", "ClusterIP", "None", "<none>", "5432/TCP", "10m", "<none>")),
        Arguments.of("", "endpoints",
            "{" + meta("web") + ",'subsets':[{'addresses':[{'ip':'10.0.0.1'},{'ip':'10.0.0.2'}],'ports':[{'port':80},{'port':443}]}]}",
            row("web", "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...", "10m")),
        Arguments.of("", "endpoints",
            "{" + meta("v6") + ",'subsets':[{'addresses':[{'ip':'fd00::1'}],'ports':[{'port':80}]}]}",
            row("v6", "[fd00::1]:80", "10m")),
        Arguments.of("", "endpoints", "{" + meta("none") + "}", row("none", "<none>", "10m")),
        Arguments.of("discovery.k8s.io", "endpointslices",
            "{" + meta("web-abc") + ",'addressType':'IPv4','ports':[{'name':'http','port':80}],"
                + "'endpoints':[{'addresses':['10.0.0.1']},{'addresses':['10.0.0.2']}]}",
            row("web-abc", "IPv4", "80", "10.0.0.1,10.0.0.2", "10m")),
        Arguments.of("discovery.k8s.io", "endpointslices",
            "{" + meta("empty") + ",'addressType':'IPv4'}", row("empty", "IPv4", "<unset>", "<unset>", "10m")),
        Arguments.of("", "nodes",
            "{'metadata':{'name':'node-1','creationTimestamp':'" + T3D + "','labels':{'node-role.kubernetes.io/control-plane':'','kubernetes.io/hostname':'node-1'}},"
                + "'status':{'conditions':[{'type':'MemoryPressure','status':'False'},{'type':'Ready','status':'True'}],"
                + "'addresses':[{'type':'InternalIP','address':'172.18.0.2'},{'type':'Hostname','address':'node-1'}],"
                + "'nodeInfo':{'kubeletVersion':'v1.32.0','osImage':'Debian GNU/Linux 12 (bookworm)','kernelVersion':'6.8.0','containerRuntimeVersion':'containerd://1.7.24'}}}",
            row("node-1", "Ready", "control-plane", "3d", "v1.32.0", "172.18.0.2", "<none>", "Debian GNU/Linux 12 (bookworm)", "6.8.0", "containerd://1.7.24")),
        Arguments.of("", "nodes",
            "{'metadata':{'name':'n2','creationTimestamp':'" + T3D + "'},'spec':{'unschedulable':true},"
                + "'status':{'conditions':[{'type':'Ready','status':'Unknown'}]}}",
            row("n2", "NotReady,SchedulingDisabled", "<none>", "3d", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>")),
        Arguments.of("", "nodes",
            "{'metadata':{'name':'n3','creationTimestamp':'" + T3D + "','labels':{'kubernetes.io/role':'worker','node-role.kubernetes.io/infra':''}},'spec':{'unschedulable':true}}",
            row("n3", "Unknown,SchedulingDisabled", "infra,worker", "3d", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>")),
        Arguments.of("", "namespaces", "{" + meta("default") + ",'status':{'phase':'Active'}}", row("default", "Active", "10m")),
        Arguments.of("", "configmaps", "{" + meta("cm") + ",'data':{'a':'1','b':'2'},'binaryData':{'c':'AA=='}}", row("cm", 3L, "10m")),
        Arguments.of("", "secrets", "{" + meta("s") + ",'type':'Opaque','data':{'a':'MQ=='}}", row("s", "Opaque", 1L, "10m")),
        Arguments.of("", "serviceaccounts", "{" + meta("default") + "}", row("default", 0L, "10m")),
        Arguments.of("", "resourcequotas",
            "{" + meta("q") + ",'status':{'hard':{'pods':'10','limits.memory':'2Gi','requests.cpu':'1','limits.cpu':'2'},'used':{'pods':'3','requests.cpu':'500m'}}}",
            row("q", "pods: 3/10, requests.cpu: 500m/1", "limits.cpu: 0/2, limits.memory: 0/2Gi", "10m")),
        Arguments.of("coordination.k8s.io", "leases",
            "{" + meta("kube-scheduler") + ",'spec':{'holderIdentity':'node-1_abc'}}", row("kube-scheduler", "node-1_abc", "10m")),
        Arguments.of("storage.k8s.io", "storageclasses",
            "{'metadata':{'name':'standard','creationTimestamp':'" + T10M + "','annotations':{'storageclass.kubernetes.io/is-default-class':'true'}},"
                + "'provisioner':'rancher.io/local-path','reclaimPolicy':'Delete','volumeBindingMode':'WaitForFirstConsumer'}",
            row("standard (default)", "rancher.io/local-path", "Delete", "WaitForFirstConsumer", false, "10m")),
        Arguments.of("", "persistentvolumes",
            "{" + meta("pv1") + ",'spec':{'capacity':{'storage':'10Gi'},'accessModes':['ReadWriteMany','ReadWriteOnce'],"
                + "'persistentVolumeReclaimPolicy':'Retain','claimRef':{'namespace':'default','name':'data'},'storageClassName':'standard','volumeMode':'Filesystem'},"
                + "'status':{'phase':'Bound'}}",
            row("pv1", "10Gi", "RWO,RWX", "Retain", "Bound", "default/data", "standard", "<unset>", "", "10m", "Filesystem")),
        Arguments.of("", "persistentvolumeclaims",
            "{" + meta("data") + ",'spec':{'accessModes':['ReadWriteOnce'],'resources':{'requests':{'storage':'1Gi'}},'volumeName':'pv1','storageClassName':'standard','volumeMode':'Filesystem'},"
                + "'status':{'phase':'Bound','accessModes':['ReadWriteOnce'],'capacity':{'storage':'10Gi'}}}",
            row("data", "Bound", "pv1", "10Gi", "RWO", "standard", "<unset>", "10m", "Filesystem")),
        Arguments.of("", "persistentvolumeclaims",
            "{" + meta("pending") + ",'spec':{'accessModes':['ReadWriteOnce'],'storageClassName':'standard'},'status':{'phase':'Pending'}}",
            row("pending", "Pending", "", "", "", "standard", "<unset>", "10m", "<unset>")),
        Arguments.of("rbac.authorization.k8s.io", "rolebindings",
            "{" + meta("rb") + ",'roleRef':{'kind':'ClusterRole','name':'view'},'subjects':[{'kind':'User','name':'alice'},"
                + "{'kind':'Group','name':'devs'},{'kind':'ServiceAccount','namespace':'ci','name':'builder'},{'kind':'User','name':'bob'}]}",
            row("rb", "ClusterRole/view", "10m", "alice, bob", "devs", "ci/builder")),
        Arguments.of("rbac.authorization.k8s.io", "clusterrolebindings",
            "{" + meta("crb") + ",'roleRef':{'kind':'ClusterRole','name':'cluster-admin'},'subjects':[{'kind':'Group','name':'system:masters'}]}",
            row("crb", "ClusterRole/cluster-admin", "10m", "", "system:masters", "")),
        Arguments.of("", "events",
            "{" + meta("web.17d") + ",'involvedObject':{'kind':'Pod','name':'web','fieldPath':'spec.containers{nginx}'},"
                + "'reason':'Pulled','message':' Successfully pulled image nginx:1.27\\n','type':'Normal','source':{'component':'kubelet','host':'node-1'},"
                + "'firstTimestamp':'2024-06-01T11:50:00Z','lastTimestamp':'2024-06-01T11:58:00Z','count':3}",
            row("2m", "Normal", "Pulled", "pod/web", "spec.containers{nginx}", "kubelet, node-1", "Successfully pulled image nginx:1.27", "10m", 3L, "web.17d")),
        Arguments.of("", "events",
            "{" + meta("e2") + ",'involvedObject':{'kind':'Node'},'reason':'Starting','type':'Normal',"
                + "'eventTime':'2024-06-01T11:59:30.123456Z','reportingComponent':'kube-proxy','reportingController':'kube-proxy','reportingInstance':'kube-proxy-node-1'}",
            // 29.877s truncates to 29s as in Go.
            row("29s", "Normal", "Starting", "node", "", "kube-proxy, kube-proxy-node-1", "", "29s", 1L, "e2")),
        Arguments.of("events.k8s.io", "events",
            "{" + meta("e3") + ",'regarding':{'kind':'Deployment','name':'web'},'reason':'ScalingReplicaSet','note':'Scaled up replica set web-5d9c to 3','type':'Normal',"
                + "'eventTime':'2024-06-01T11:50:00.000000Z','series':{'count':4,'lastObservedTime':'2024-06-01T11:59:00.000000Z'},'reportingController':'deployment-controller'}",
            row("60s", "Normal", "ScalingReplicaSet", "deployment/web", "", "deployment-controller", "Scaled up replica set web-5d9c to 3", "10m", 4L, "e3")),
        Arguments.of("networking.k8s.io", "ingresses",
            "{" + meta("ing") + ",'spec':{'ingressClassName':'nginx','rules':[{'host':'a.example.com'},{'host':'b.example.com'}],'tls':[{'hosts':['a.example.com']}]},"
                + "'status':{'loadBalancer':{'ingress':[{'ip':'172.18.0.5'}]}}}",
            row("ing", "nginx", "a.example.com,b.example.com", "172.18.0.5", "80, 443", "10m")),
        Arguments.of("policy", "poddisruptionbudgets",
            "{" + meta("pdb") + ",'spec':{'minAvailable':'50%'},'status':{'disruptionsAllowed':1}}",
            row("pdb", "50%", "N/A", 1L, "10m")));
  }

  @ParameterizedTest(name = "{0}/{1} #{index}")
  @MethodSource("kinds")
  void kinds(String group, String resource, String json, List<Object> expected) {
    TablePrinter p = TablePrinters.forResource(group, resource);
    assertThat(TablePrinters.hasPrinter(group, resource)).isTrue();
    List<Object> cells = p.cells(obj(json), NOW);
    assertThat(cells).isEqualTo(expected);
    assertThat(cells).hasSameSizeAs(p.columns());
  }

  @Test
  void columnNamesAndPriorities() {
    assertThat(names("apps", "deployments"))
        .containsExactly("Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector");
    assertThat(priorities("apps", "deployments")).containsExactly(0, 0, 0, 0, 0, 1, 1, 1);
    assertThat(names("", "services"))
        .containsExactly("Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector");
    assertThat(names("", "nodes"))
        .containsExactly("Name", "Status", "Roles", "Age", "Version", "Internal-IP", "External-IP",
            "OS-Image", "Kernel-Version", "Container-Runtime");
    assertThat(priorities("", "nodes")).containsExactly(0, 0, 0, 0, 0, 1, 1, 1, 1, 1);
    assertThat(names("batch", "jobs"))
        .containsExactly("Name", "Status", "Completions", "Duration", "Age", "Containers", "Images", "Selector");
    assertThat(names("batch", "cronjobs"))
        .containsExactly("Name", "Schedule", "Timezone", "Suspend", "Active", "Last Schedule", "Age",
            "Containers", "Images", "Selector");
    assertThat(names("", "events"))
        .containsExactly("Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message",
            "First Seen", "Count", "Name");
    assertThat(priorities("", "events")).containsExactly(0, 0, 0, 0, 1, 1, 0, 1, 1, 1);
    assertThat(names("apps", "replicasets"))
        .containsExactly("Name", "Desired", "Current", "Ready", "Age", "Containers", "Images", "Selector");
    assertThat(TablePrinters.forResource("apps", "replicasets").columns().get(1).type()).isEqualTo("integer");
  }

  private static List<String> names(String g, String r) {
    return TablePrinters.forResource(g, r).columns().stream().map(ColumnDefinition::name).toList();
  }

  private static List<Integer> priorities(String g, String r) {
    return TablePrinters.forResource(g, r).columns().stream().map(ColumnDefinition::priority).toList();
  }

  // ---------------------------------------------------------------- default printer

  @Test
  void defaultPrinterForKindsWithoutHandler() {
    for (String[] gr : new String[][] {
        {"rbac.authorization.k8s.io", "roles"}, {"rbac.authorization.k8s.io", "clusterroles"},
        {"", "limitranges"}, {"example.com", "widgets"}}) {
      TablePrinter p = TablePrinters.forResource(gr[0], gr[1]);
      assertThat(TablePrinters.hasPrinter(gr[0], gr[1])).isFalse();
      assertThat(p.columns()).extracting(ColumnDefinition::name).containsExactly("Name", "Created At");
      assertThat(p.columns().get(1).type()).isEqualTo("date");
    }
    ObjectNode role = obj("{'metadata':{'name':'reader','creationTimestamp':'2024-06-01T13:50:00.5+02:00'}}");
    assertThat(TablePrinters.defaultPrinter().cells(role, NOW))
        .containsExactly("reader", "2024-06-01T11:50:00Z");
    assertThat(TablePrinters.defaultPrinter().cells(obj("{'metadata':{'name':'x'}}"), NOW))
        .containsExactly("x", "0001-01-01T00:00:00Z");
  }

  // ---------------------------------------------------------------- CRD columns

  @Test
  void crdColumns() {
    TablePrinter p = TablePrinters.fromColumns(List.of(
        new PrinterColumn("Replicas", "integer", "", "", 0, ".spec.replicas"),
        PrinterColumn.of("Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status"),
        new PrinterColumn("Reason", "string", "", "Why", 1, ".status.conditions[?(@.type=='Ready')].reason"),
        PrinterColumn.of("URL", "string", "{.status.url}"),
        PrinterColumn.of("Ratio", "number", ".status.ratio"),
        PrinterColumn.of("Paused", "boolean", ".spec.paused"),
        PrinterColumn.of("Labels", "string", ".metadata.labels"),
        PrinterColumn.of("App", "string", ".metadata.labels.app\\.kubernetes\\.io/name"),
        PrinterColumn.of("First", "string", ".spec.items[0].name"),
        PrinterColumn.of("Last", "string", ".spec.items[-1].name"),
        PrinterColumn.of("Missing", "string", ".spec.nothing"),
        PrinterColumn.of("WrongType", "integer", ".spec.paused"),
        PrinterColumn.of("Age", "date", ".metadata.creationTimestamp")));
    assertThat(p.columns()).extracting(ColumnDefinition::name).containsExactly(
        "Name", "Replicas", "Ready", "Reason", "URL", "Ratio", "Paused", "Labels", "App", "First",
        "Last", "Missing", "WrongType", "Age");
    assertThat(p.columns().get(1).description())
        .isEqualTo("Custom resource definition column (in JSONPath format): .spec.replicas");
    assertThat(p.columns().get(3).description()).isEqualTo("Why");
    assertThat(p.columns().get(3).priority()).isEqualTo(1);

    ObjectNode ksvc = obj("{'metadata':{'name':'hello','creationTimestamp':'" + T10M + "',"
        + "'labels':{'z':'1','app.kubernetes.io/name':'hello'}},"
        + "'spec':{'replicas':2,'paused':false,'items':[{'name':'a'},{'name':'b'}]},"
        + "'status':{'url':'http://hello.default.example.com','ratio':0.5,"
        + "'conditions':[{'type':'ConfigurationsReady','status':'True'},{'type':'Ready','status':'False','reason':'RevisionMissing'}]}}");
    assertThat(p.cells(ksvc, NOW)).isEqualTo(row(
        "hello", 2L, "False", "RevisionMissing", "http://hello.default.example.com", 0.5, false,
        "{\"app.kubernetes.io/name\":\"hello\",\"z\":\"1\"}", "hello", "a", "b", null, null, "10m"));
  }

  @Test
  void crdCellTyping() {
    assertThat(CustomColumnsPrinter.cell("integer", obj("{'v':2.9}").get("v"), NOW)).isEqualTo(2L);
    assertThat(CustomColumnsPrinter.cell("number", obj("{'v':3}").get("v"), NOW)).isEqualTo(3.0);
    assertThat(CustomColumnsPrinter.cell("date", obj("{'v':'yesterday'}").get("v"), NOW)).isEqualTo("<invalid>");
    assertThat(CustomColumnsPrinter.cell("date", obj("{'v':3}").get("v"), NOW)).isNull();
    assertThat(CustomColumnsPrinter.text(obj("{'v':1.0E21}").get("v"))).isEqualTo("1e+21");
    assertThat(CustomColumnsPrinter.text(obj("{'v':2.5}").get("v"))).isEqualTo("2.5");
    assertThat(CustomColumnsPrinter.text(obj("{'v':[1,'a']}").get("v"))).isEqualTo("[1,\"a\"]");
    assertThat(CustomColumnsPrinter.text(obj("{'v':null}").get("v"))).isEqualTo("<no value>");
    assertThat(CustomColumnsPrinter.text(obj("{'v':true}").get("v"))).isEqualTo("true");
  }

  @Test
  void defaultCustomResourceColumnsGiveNameAndAge() {
    TablePrinter p = TablePrinters.fromColumns(TablePrinters.defaultCustomResourceColumns());
    assertThat(p.columns()).extracting(ColumnDefinition::name).containsExactly("Name", "Age");
    assertThat(p.cells(obj("{" + meta("w") + "}"), NOW)).containsExactly("w", "10m");
  }

  @Test
  void badJsonPathIsRejected() {
    assertThatThrownBy(() -> TablePrinters.fromColumns(List.of(PrinterColumn.of("X", "string", "spec"))))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void jsonPathFeatures() {
    ObjectNode o = obj("{'a':{'b.c':1,'list':[{'k':'x','n':1},{'k':'y','n':5}]}}");
    assertThat(JsonPath.parse(".a['b.c']").find(o)).extracting(Object::toString).containsExactly("1");
    assertThat(JsonPath.parse(".a.list[*].k").find(o)).extracting(n -> n.asText()).containsExactly("x", "y");
    assertThat(JsonPath.parse(".a.list[?(@.n > 2)].k").find(o)).extracting(n -> n.asText()).containsExactly("y");
    assertThat(JsonPath.parse(".a.list[?(@.k != 'x')].n").find(o)).extracting(n -> n.asText()).containsExactly("5");
    assertThat(JsonPath.parse("..k").find(o)).extracting(n -> n.asText()).containsExactly("x", "y");
    assertThat(JsonPath.parse("$.a.list[5]").find(o)).isEmpty();
  }
}
