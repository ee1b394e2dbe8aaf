package dev.skiff.apiserver.table;

import static dev.skiff.apiserver.table.ColumnDefinition.ageColumn;
import static dev.skiff.apiserver.table.ColumnDefinition.nameColumn;
import static dev.skiff.apiserver.table.ColumnDefinition.of;
import static dev.skiff.apiserver.table.ColumnDefinition.wide;
import static dev.skiff.apiserver.table.Obj.*;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * PersistentVolumes, PersistentVolumeClaims, StorageClasses: {@code printPersistentVolume},
 * {@code printPersistentVolumeClaim}, {@code printStorageClass} in printers.go.
 */
final class StoragePrinters {
  private StoragePrinters() {}

  /** Pre-GA annotation that still wins over spec.storageClassName ({@code helper} package). */
  static final String BETA_STORAGE_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class";

  static TablePrinter persistentVolumes() {
    return SimplePrinter.of(
        (obj, now) -> {
          JsonNode spec = obj.path("spec");
          String claim = "";
          if (spec.path("claimRef").isObject()) {
            claim = str(spec, "claimRef", "namespace") + "/" + str(spec, "claimRef", "name");
          }
          String phase =
              has(obj, "metadata", "deletionTimestamp") ? "Terminating" : str(obj, "status", "phase");
          return new Object[] {
            name(obj),
            quantity(spec, "capacity", "storage"),
            accessModes(list(spec, "accessModes")),
            str(spec, "persistentVolumeReclaimPolicy"),
            phase,
            claim,
            storageClass(obj),
            has(spec, "volumeAttributesClassName") ? str(spec, "volumeAttributesClassName") : "<unset>",
            str(obj, "status", "reason"),
            age(obj, now),
            has(spec, "volumeMode") ? str(spec, "volumeMode") : "<unset>"
          };
        },
        nameColumn(),
        of(
            "Capacity",
            "string",
            "capacity is the description of the persistent volume's resources and capacity. More"
                + " info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#capacity"),
        of(
            "Access Modes",
            "string",
            "accessModes contains all ways the volume can be mounted. More info:"
                + " https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes"),
        of(
            "Reclaim Policy",
            "string",
            "persistentVolumeReclaimPolicy defines what happens to a persistent volume when"
                + " released from its claim. Valid options are Retain (default for manually created"
                + " PersistentVolumes), Delete (default for dynamically provisioned"
                + " PersistentVolumes), and Recycle (deprecated). Recycle must be supported by the"
                + " volume plugin underlying this PersistentVolume. More info:"
                + " https://kubernetes.io/docs/concepts/storage/persistent-volumes#reclaiming"),
        of(
            "Status",
            "string",
            "phase indicates if a volume is available, bound to a claim, or released by a claim."
                + " More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#phase"),
        of(
            "Claim",
            "string",
            "claimRef is part of a bi-directional binding between PersistentVolume and"
                + " PersistentVolumeClaim. Expected to be non-nil when bound. claim.VolumeName is"
                + " the authoritative bind between PV and PVC. More info:"
                + " https://kubernetes.io/docs/concepts/storage/persistent-volumes#binding"),
        of("StorageClass", "string", "StorageClass of the pv"),
        of("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
        of(
            "Reason",
            "string",
            "reason is a brief CamelCase string that describes any failure and is meant for"
                + " machine parsing and tidy display in the CLI."),
        ageColumn(),
        wide(
            "VolumeMode",
            "string",
            "volumeMode defines if a volume is intended to be used with a formatted filesystem or"
                + " to remain in raw block state. Value of Filesystem is implied when not included"
                + " in spec."));
  }

  static TablePrinter persistentVolumeClaims() {
    return SimplePrinter.of(
        (obj, now) -> {
          JsonNode spec = obj.path("spec");
          String phase =
              has(obj, "metadata", "deletionTimestamp") ? "Terminating" : str(obj, "status", "phase");
          String capacity = "";
          String modes = "";
          // Capacity and access modes are only meaningful once bound.
          if (!str(spec, "volumeName").isEmpty()) {
            modes = accessModes(list(obj, "status", "accessModes"));
            capacity = quantity(obj, "status", "capacity", "storage");
          }
          String storageClass = str(obj, "metadata", "annotations", BETA_STORAGE_CLASS_ANNOTATION);
          if (!has(obj, "metadata", "annotations", BETA_STORAGE_CLASS_ANNOTATION)) {
            storageClass = str(spec, "storageClassName");
          }
          return new Object[] {
            name(obj),
            phase,
            str(spec, "volumeName"),
            capacity,
            modes,
            storageClass,
            has(spec, "volumeAttributesClassName") ? str(spec, "volumeAttributesClassName") : "<unset>",
            age(obj, now),
            has(spec, "volumeMode") ? str(spec, "volumeMode") : "<unset>"
          };
        },
        nameColumn(),
        of(
            "Status",
            "string",
            "phase represents the current phase of PersistentVolumeClaim."),
        of(
            "Volume",
            "string",
            "volumeName is the binding reference to the PersistentVolume backing this claim."),
        of(
            "Capacity",
            "string",
            "capacity represents the actual resources of the underlying volume."),
        of(
            "Access Modes",
            "string",
            "accessModes contains the actual access modes the volume backing the PVC has. More"
                + " info:"
                + " https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1"),
        of("StorageClass", "string", "StorageClass of the pvc"),
        of("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
        ageColumn(),
        wide(
            "VolumeMode",
            "string",
            "volumeMode defines what type of volume is required by the claim. Value of Filesystem"
                + " is implied when not included in claim spec."));
  }

  /** {@code helper.GetPersistentVolumeClass}: the beta annotation wins over the field. */
  private static String storageClass(JsonNode pv) {
    if (has(pv, "metadata", "annotations", BETA_STORAGE_CLASS_ANNOTATION)) {
      return str(pv, "metadata", "annotations", BETA_STORAGE_CLASS_ANNOTATION);
    }
    return str(pv, "spec", "storageClassName");
  }

  /** {@code helper.GetAccessModesAsString}: fixed order RWO, ROX, RWX, RWOP. */
  static String accessModes(List<JsonNode> modes) {
    Set<String> set = new HashSet<>();
    modes.forEach(m -> set.add(m.asText()));
    List<String> out = new ArrayList<>();
    if (set.contains("ReadWriteOnce")) {
      out.add("RWO");
    }
    if (set.contains("ReadOnlyMany")) {
      out.add("ROX");
    }
    if (set.contains("ReadWriteMany")) {
      out.add("RWX");
    }
    if (set.contains("ReadWriteOncePod")) {
      out.add("RWOP");
    }
    return String.join(",", out);
  }

  static TablePrinter storageClasses() {
    return SimplePrinter.of(
        (obj, now) -> {
          String name = name(obj);
          if ("true".equals(str(obj, "metadata", "annotations", "storageclass.kubernetes.io/is-default-class"))
              || "true".equals(
                  str(obj, "metadata", "annotations", "storageclass.beta.kubernetes.io/is-default-class"))) {
            name += " (default)";
          }
          return new Object[] {
            name,
            str(obj, "provisioner"),
            has(obj, "reclaimPolicy") ? str(obj, "reclaimPolicy") : "Delete",
            has(obj, "volumeBindingMode") ? str(obj, "volumeBindingMode") : "Immediate",
            bool(obj, "allowVolumeExpansion"),
            age(obj, now)
          };
        },
        nameColumn(),
        of(
            "Provisioner",
            "string",
            "provisioner indicates the type of the provisioner."),
        of(
            "ReclaimPolicy",
            "string",
            "reclaimPolicy controls the reclaimPolicy for dynamically provisioned"
                + " PersistentVolumes of this storage class. Defaults to Delete."),
        of(
            "VolumeBindingMode",
            "string",
            "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and"
                + " bound.  When unset, VolumeBindingImmediate is used. This field is only honored"
                + " by servers that enable the VolumeScheduling feature."),
        of(
            "AllowVolumeExpansion",
            "string",
            "allowVolumeExpansion shows whether the storage class allow volume expand."),
        ageColumn());
  }
}
