package dev.skiff.serving.v1;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.kubernetes.api.model.ObjectMeta;

/** What a Configuration stamps Revisions from (RevisionTemplateSpec). */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class RevisionTemplateSpec extends Extensible {
  private ObjectMeta metadata;
  private RevisionSpec spec;

  public ObjectMeta getMetadata() { return metadata; }
  public void setMetadata(ObjectMeta metadata) { this.metadata = metadata; }
  public RevisionSpec getSpec() { return spec; }
  public void setSpec(RevisionSpec spec) { this.spec = spec; }
}
