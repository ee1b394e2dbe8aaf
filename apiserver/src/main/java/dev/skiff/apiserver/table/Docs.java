package dev.skiff.apiserver.table;

/**
 * Column descriptions. Upstream fills most of them from the generated swagger docs
 * ({@code SwaggerDoc()} of the v1 types, e.g. {@code metav1.ObjectMeta{}.SwaggerDoc()["name"]});
 * the strings here are those docs. kubectl never shows descriptions, so they matter only to
 * clients that render column help.
 */
final class Docs {
  private Docs() {}

  static final String NAME =
      "Name must be unique within a namespace. Is required when creating resources, although some"
          + " resources may allow a client to request the generation of an appropriate name"
          + " automatically. Name is primarily intended for creation idempotence and configuration"
          + " definition. Cannot be updated. More info:"
          + " https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";

  static final String CREATION_TIMESTAMP =
      "CreationTimestamp is a timestamp representing the server time when this object was created."
          + " It is not guaranteed to be set in happens-before order across separate operations."
          + " Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\n"
          + "Populated by the system. Read-only. Null for lists. More info:"
          + " https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

  static final String CONTAINERS = "Names of each container in the template.";
  static final String IMAGES = "Images referenced by each container in the template.";
  static final String SELECTOR =
      "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the"
          + " ones affected by this deployment.";
  static final String RS_SELECTOR =
      "Selector is a label query over pods that should match the replica count. If the selector is"
          + " empty, it is defaulted to the labels present on the pod template. Label keys and"
          + " values that must match in order to be controlled by this replica set. More info:"
          + " https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
  static final String RC_SELECTOR =
      "Selector is a label query over pods that should match the Replicas count. If Selector is"
          + " empty, it is defaulted to the labels present on the Pod template. Label keys and"
          + " values that must match in order to be controlled by this replication controller, if"
          + " empty defaulted to labels on Pod template. More info:"
          + " https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
  static final String DS_SELECTOR =
      "A label query over pods that are managed by the daemon set. Must match in order to be"
          + " controlled. It must match the pod template's labels. More info:"
          + " https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
  static final String JOB_SELECTOR =
      "A label query over pods that should match the pod count. Normally, the system sets this"
          + " field for you. More info:"
          + " https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
}
