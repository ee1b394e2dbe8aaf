package dev.skiff.serving.v1;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/**
 * The spec of a Service (template + traffic), a Configuration (template) or a Route (traffic):
 * Knative's ServiceSpec inlines ConfigurationSpec and RouteSpec, so one class serves all three.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class Spec extends Extensible {
  private RevisionTemplateSpec template;
  private List<TrafficTarget> traffic;

  public RevisionTemplateSpec getTemplate() { return template; }
  public void setTemplate(RevisionTemplateSpec template) { this.template = template; }
  public List<TrafficTarget> getTraffic() { return traffic; }
  public void setTraffic(List<TrafficTarget> traffic) { this.traffic = traffic; }
}
