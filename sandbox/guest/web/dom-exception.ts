// DOMException (WebIDL): an Error whose name, message and legacy code are prototype accessors.
// Hand-written: the `domexception` package is deprecated and pulls in webidl2js wrappers.
import { enumerableMembers, tagClass } from "./util.ts";

const LEGACY_CODES = [
  ["IndexSizeError", "INDEX_SIZE_ERR"],
  ["", "DOMSTRING_SIZE_ERR"],
  ["HierarchyRequestError", "HIERARCHY_REQUEST_ERR"],
  ["WrongDocumentError", "WRONG_DOCUMENT_ERR"],
  ["InvalidCharacterError", "INVALID_CHARACTER_ERR"],
  ["", "NO_DATA_ALLOWED_ERR"],
  ["NoModificationAllowedError", "NO_MODIFICATION_ALLOWED_ERR"],
  ["NotFoundError", "NOT_FOUND_ERR"],
  ["NotSupportedError", "NOT_SUPPORTED_ERR"],
  ["InUseAttributeError", "INUSE_ATTRIBUTE_ERR"],
  ["InvalidStateError", "INVALID_STATE_ERR"],
  ["SyntaxError", "SYNTAX_ERR"],
  ["InvalidModificationError", "INVALID_MODIFICATION_ERR"],
  ["NamespaceError", "NAMESPACE_ERR"],
  ["InvalidAccessError", "INVALID_ACCESS_ERR"],
  ["", "VALIDATION_ERR"],
  ["TypeMismatchError", "TYPE_MISMATCH_ERR"],
  ["SecurityError", "SECURITY_ERR"],
  ["NetworkError", "NETWORK_ERR"],
  ["AbortError", "ABORT_ERR"],
  ["URLMismatchError", "URL_MISMATCH_ERR"],
  ["QuotaExceededError", "QUOTA_EXCEEDED_ERR"],
  ["TimeoutError", "TIMEOUT_ERR"],
  ["InvalidNodeTypeError", "INVALID_NODE_TYPE_ERR"],
  ["DataCloneError", "DATA_CLONE_ERR"],
] as const;

const CODE_OF_NAME = new Map<string, number>(LEGACY_CODES.map(([name], index) => [name, index + 1]));
CODE_OF_NAME.delete("");

// Extending Error through a cast keeps V8's stack capture while letting name/message be accessors
// (TypeScript refuses accessors that override Error's data properties).
const ErrorBase = Error as unknown as new () => { readonly stack?: string };

export class DOMException extends ErrorBase {
  #name: string;
  #message: string;

  constructor(message: unknown = "", name: unknown = "Error") {
    super(); // no own `message`: message and name are the accessors below
    this.#message = String(message);
    this.#name = String(name);
    // A bare isolate's V8 writes the stack's first line without consulting the accessors
    // (Node and browsers do): put "Name: message" there ourselves.
    const stack = String(this.stack ?? "");
    const frames = stack.includes("\n") ? stack.slice(stack.indexOf("\n")) : "";
    const head = this.#message ? `${this.#name}: ${this.#message}` : this.#name;
    Object.defineProperty(this, "stack", { value: head + frames, writable: true, configurable: true });
  }

  get name(): string {
    return this.#name;
  }

  get message(): string {
    return this.#message;
  }

  get code(): number {
    return CODE_OF_NAME.get(this.#name) ?? 0;
  }
}

// The legacy constants (DOMException.ABORT_ERR === 20), on the constructor and the prototype.
for (let i = 0; i < LEGACY_CODES.length; i++) {
  const constant = { value: i + 1, enumerable: true };
  Object.defineProperty(DOMException, LEGACY_CODES[i][1], constant);
  Object.defineProperty(DOMException.prototype, LEGACY_CODES[i][1], constant);
}
enumerableMembers(DOMException);
tagClass(DOMException, "DOMException");

export function abortError(message = "This operation was aborted"): DOMException {
  return new DOMException(message, "AbortError");
}
