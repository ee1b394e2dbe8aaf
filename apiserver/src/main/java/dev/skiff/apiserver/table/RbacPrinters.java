package dev.skiff.apiserver.table;

import static dev.skiff.apiserver.table.ColumnDefinition.ageColumn;
import static dev.skiff.apiserver.table.ColumnDefinition.nameColumn;
import static dev.skiff.apiserver.table.ColumnDefinition.of;
import static dev.skiff.apiserver.table.ColumnDefinition.wide;
import static dev.skiff.apiserver.table.Obj.*;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/**
 * RoleBindings and ClusterRoleBindings ({@code printRoleBinding}, {@code printClusterRoleBinding}).
 * Roles and ClusterRoles have no printer upstream and get the default Name / Created At table.
 */
final class RbacPrinters {
  private RbacPrinters() {}

  static TablePrinter roleBindings() {
    return bindings(
        "roleBinding",
        "RoleRef can reference a Role in the current namespace or a ClusterRole in the global"
            + " namespace. If the RoleRef cannot be resolved, the Authorizer must return an"
            + " error. This field is immutable.");
  }

  static TablePrinter clusterRoleBindings() {
    return bindings(
        "clusterRoleBinding",
        "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef"
            + " cannot be resolved, the Authorizer must return an error. This field is"
            + " immutable.");
  }

  private static TablePrinter bindings(String what, String roleDoc) {
    return SimplePrinter.of(
        (obj, now) -> {
          // rbac.SubjectsStrings: users, groups, and namespace/name service accounts.
          List<String> users = new ArrayList<>();
          List<String> groups = new ArrayList<>();
          List<String> sas = new ArrayList<>();
          for (JsonNode s : list(obj, "subjects")) {
            switch (str(s, "kind")) {
              case "User" -> users.add(str(s, "name"));
              case "Group" -> groups.add(str(s, "name"));
              case "ServiceAccount" -> sas.add(str(s, "namespace") + "/" + str(s, "name"));
              default -> {}
            }
          }
          return new Object[] {
            name(obj),
            str(obj, "roleRef", "kind") + "/" + str(obj, "roleRef", "name"),
            age(obj, now),
            String.join(", ", users),
            String.join(", ", groups),
            String.join(", ", sas)
          };
        },
        nameColumn(),
        of("Role", "string", roleDoc),
        ageColumn(),
        wide("Users", "string", "Users in the " + what),
        wide("Groups", "string", "Groups in the " + what),
        wide("ServiceAccounts", "string", "ServiceAccounts in the " + what));
  }
}
