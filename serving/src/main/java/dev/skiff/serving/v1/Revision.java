package dev.skiff.serving.v1;

import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;

/** serving.knative.dev/v1 Revision. */
@Group("serving.knative.dev")
@Version("v1")
@Kind("Revision")
@Plural("revisions")
@ShortNames({"rev"})
public class Revision extends CustomResource<RevisionSpec, Status> implements Namespaced {
  @Override
  protected RevisionSpec initSpec() {
    return new RevisionSpec();
  }

  @Override
  protected Status initStatus() {
    return new Status();
  }
}
