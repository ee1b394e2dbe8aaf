package dev.skiff.serving.v1;

import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;

/** serving.knative.dev/v1 Service. */
@Group("serving.knative.dev")
@Version("v1")
@Kind("Service")
@Plural("services")
@ShortNames({"ksvc", "kservice"})
public class KService extends CustomResource<Spec, Status> implements Namespaced {
  @Override
  protected Spec initSpec() {
    return new Spec();
  }

  @Override
  protected Status initStatus() {
    return new Status();
  }
}
