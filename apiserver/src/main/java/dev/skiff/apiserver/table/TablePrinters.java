package dev.skiff.apiserver.table;

import java.util.List;
import java.util.Map;

/**
 * Server-side Table printers by group and resource, as registered by kube-apiserver's
 * {@code pkg/printers/internalversion/printers.go} {@code AddHandlers}. Resources without an
 * upstream printer (roles, clusterroles, limitranges, custom kinds without columns...) get the
 * generic Name / Created At table of apiserver {@code pkg/registry/rest/table.go}.
 */
public final class TablePrinters {
  private TablePrinters() {}

  private static final Map<String, TablePrinter> BUILTIN =
      Map.ofEntries(
          Map.entry("/pods", new PodPrinter()),
          Map.entry("/podtemplates", WorkloadPrinters.podTemplates()),
          Map.entry("/replicationcontrollers", WorkloadPrinters.replicationControllers()),
          Map.entry("/services", NetworkPrinters.services()),
          Map.entry("/endpoints", NetworkPrinters.endpoints()),
          Map.entry("/nodes", CorePrinters.nodes()),
          Map.entry("/namespaces", CorePrinters.namespaces()),
          Map.entry("/events", new EventPrinter(false)),
          Map.entry("/configmaps", CorePrinters.configMaps()),
          Map.entry("/secrets", CorePrinters.secrets()),
          Map.entry("/serviceaccounts", CorePrinters.serviceAccounts()),
          Map.entry("/resourcequotas", CorePrinters.resourceQuotas()),
          Map.entry("/persistentvolumes", StoragePrinters.persistentVolumes()),
          Map.entry("/persistentvolumeclaims", StoragePrinters.persistentVolumeClaims()),
          Map.entry("apps/deployments", WorkloadPrinters.deployments()),
          Map.entry("apps/replicasets", WorkloadPrinters.replicaSets()),
          Map.entry("apps/statefulsets", WorkloadPrinters.statefulSets()),
          Map.entry("apps/daemonsets", WorkloadPrinters.daemonSets()),
          Map.entry("apps/controllerrevisions", WorkloadPrinters.controllerRevisions()),
          Map.entry("batch/jobs", BatchPrinters.jobs()),
          Map.entry("batch/cronjobs", BatchPrinters.cronJobs()),
          Map.entry("discovery.k8s.io/endpointslices", NetworkPrinters.endpointSlices()),
          Map.entry("networking.k8s.io/ingresses", NetworkPrinters.ingresses()),
          Map.entry("networking.k8s.io/ingressclasses", NetworkPrinters.ingressClasses()),
          Map.entry("networking.k8s.io/networkpolicies", NetworkPrinters.networkPolicies()),
          Map.entry("events.k8s.io/events", new EventPrinter(true)),
          Map.entry("coordination.k8s.io/leases", CorePrinters.leases()),
          Map.entry("policy/poddisruptionbudgets", CorePrinters.podDisruptionBudgets()),
          Map.entry("scheduling.k8s.io/priorityclasses", CorePrinters.priorityClasses()),
          Map.entry("storage.k8s.io/storageclasses", StoragePrinters.storageClasses()),
          Map.entry("rbac.authorization.k8s.io/rolebindings", RbacPrinters.roleBindings()),
          Map.entry(
              "rbac.authorization.k8s.io/clusterrolebindings", RbacPrinters.clusterRoleBindings()));

  /**
   * The printer for a built-in resource ({@code group} "" for the core group, {@code resource}
   * plural and lower case), or the default Name / Created At printer.
   */
  public static TablePrinter forResource(String group, String resource) {
    TablePrinter p = BUILTIN.get((group == null ? "" : group) + "/" + resource);
    return p != null ? p : DefaultTablePrinter.INSTANCE;
  }

  /** Whether {@link #forResource} has a dedicated printer (rather than the default). */
  public static boolean hasPrinter(String group, String resource) {
    return BUILTIN.containsKey((group == null ? "" : group) + "/" + resource);
  }

  /** The generic Name / Created At printer of apiserver {@code pkg/registry/rest/table.go}. */
  public static TablePrinter defaultPrinter() {
    return DefaultTablePrinter.INSTANCE;
  }

  /**
   * A printer from CRD-style {@code additionalPrinterColumns}: Name, then the declared columns.
   * An empty list still yields a Name-only table, as a CRD version with columns explicitly
   * emptied; for CRDs without the field callers pass the implicit Age column
   * ({@link #defaultCustomResourceColumns}), as apiextensions-apiserver does.
   *
   * @throws IllegalArgumentException when a jsonPath cannot be parsed
   */
  public static TablePrinter fromColumns(List<PrinterColumn> columns) {
    return new CustomColumnsPrinter(columns);
  }

  /**
   * The columns apiextensions-apiserver uses for a CRD version that declares none
   * ({@code apiextensions/v1} defaulting adds Age: {@code .metadata.creationTimestamp}, date).
   */
  public static List<PrinterColumn> defaultCustomResourceColumns() {
    return List.of(
        new PrinterColumn(
            "Age", "date", "", Docs.CREATION_TIMESTAMP, 0, ".metadata.creationTimestamp"));
  }
}
