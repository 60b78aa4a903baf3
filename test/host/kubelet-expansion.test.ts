// The e2e suite runs the DaemonSet's container from its manifest; these are the kubelet's rules for $(VAR)
// in env values, command and args (k8s.io/kubernetes third_party/forked/golang/expansion), which that
// emulation must follow exactly.
import { test } from "node:test";
import assert from "node:assert/strict";
import { expand } from "../e2e/support/kubelet.js";

const vars = new Map([["POD_IP", "10.0.0.7"], ["EMPTY", ""], ["A", "x"]]);

const cases: Record<string, [input: string, expected: string]> = {
  "a defined variable": ["$(POD_IP):9787", "10.0.0.7:9787"],
  "two, side by side": ["$(A)$(A)", "xx"],
  "defined as empty": ["[$(EMPTY)]", "[]"],
  "undefined stays as written": ["$(NOPE):9787", "$(NOPE):9787"],
  "$$ escapes the reference": ["$$(POD_IP)", "$(POD_IP)"],
  "$$ alone is one $": ["a$$b", "a$b"],
  "a $ before anything else stays": ["$A and $ and $", "$A and $ and $"],
  "unterminated stays": ["$(POD_IP", "$(POD_IP"],
  "no reference": ["run --config /etc/cri-logrotate/config.yaml", "run --config /etc/cri-logrotate/config.yaml"],
};
for (const [name, [input, expected]] of Object.entries(cases)) {
  test(`expand: ${name}`, () => assert.equal(expand(input, vars), expected));
}
