package dev.skiff.serving.v1;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.kubernetes.api.model.PodSpec;

/** A Revision's spec: a PodSpec plus Knative's fields (RevisionSpec, revision_types.go). */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class RevisionSpec extends PodSpec {
  private Long containerConcurrency;
  private Long timeoutSeconds;
  private Long responseStartTimeoutSeconds;
  private Long idleTimeoutSeconds;

  public Long getContainerConcurrency() { return containerConcurrency; }
  public void setContainerConcurrency(Long v) { this.containerConcurrency = v; }
  public Long getTimeoutSeconds() { return timeoutSeconds; }
  public void setTimeoutSeconds(Long v) { this.timeoutSeconds = v; }
  public Long getResponseStartTimeoutSeconds() { return responseStartTimeoutSeconds; }
  public void setResponseStartTimeoutSeconds(Long v) { this.responseStartTimeoutSeconds = v; }
  public Long getIdleTimeoutSeconds() { return idleTimeoutSeconds; }
  public void setIdleTimeoutSeconds(Long v) { this.idleTimeoutSeconds = v; }
}
