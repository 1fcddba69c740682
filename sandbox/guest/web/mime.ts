// MIME types (WHATWG MIME Sniffing "parse a MIME type" and "serialize"), for Content-Type
// handling in Body.blob() and Body.formData().

export interface MimeType {
  type: string;
  subtype: string;
  parameters: Map<string, string>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const QUOTED_STRING_CHARS = /^[\t\x20-\x7e\x80-\xff]*$/;
const HTTP_WHITESPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g;

export function parseMimeType(input: string): MimeType | null {
  const text = input.replace(HTTP_WHITESPACE, "");
  const slash = text.indexOf("/");
  if (slash <= 0) return null;
  const type = text.slice(0, slash);
  let position = text.indexOf(";", slash);
  if (position === -1) position = text.length;
  const subtype = text.slice(slash + 1, position).replace(/[\t\n\r ]+$/, "");
  if (!TOKEN.test(type) || !TOKEN.test(subtype)) return null;
  const mime: MimeType = { type: type.toLowerCase(), subtype: subtype.toLowerCase(), parameters: new Map() };

  while (position < text.length) {
    position++; // past ";"
    while (position < text.length && /[\t\n\r ]/.test(text[position])) position++;
    let end = position;
    while (end < text.length && text[end] !== ";" && text[end] !== "=") end++;
    const name = text.slice(position, end).toLowerCase();
    position = end;
    if (position < text.length) {
      if (text[position] === ";") continue;
      position++; // past "="
    }
    if (position >= text.length) break;
    let value: string;
    if (text[position] === '"') {
      [value, position] = collectQuotedString(text, position);
      while (position < text.length && text[position] !== ";") position++;
    } else {
      end = text.indexOf(";", position);
      if (end === -1) end = text.length;
      value = text.slice(position, end).replace(/[\t\n\r ]+$/, "");
      position = end;
      if (value === "") continue;
    }
    if (name !== "" && TOKEN.test(name) && QUOTED_STRING_CHARS.test(value) && !mime.parameters.has(name)) {
      mime.parameters.set(name, value);
    }
  }
  return mime;
}

/** Fetch's "collect an HTTP quoted string" with the value extracted; returns [value, position]. */
function collectQuotedString(text: string, position: number): [string, number] {
  let value = "";
  position++; // past the opening quote
  while (position < text.length) {
    const char = text[position++];
    if (char === '"') break;
    if (char === "\\") {
      if (position >= text.length) {
        value += "\\";
        break;
      }
      value += text[position++];
    } else {
      value += char;
    }
  }
  return [value, position];
}

export function serializeMimeType(mime: MimeType): string {
  let out = `${mime.type}/${mime.subtype}`;
  for (const [name, value] of mime.parameters) {
    const shown = value !== "" && TOKEN.test(value) ? value : `"${value.replace(/(["\\])/g, "\\$1")}"`;
    out += `;${name}=${shown}`;
  }
  return out;
}

export function essence(mime: MimeType): string {
  return `${mime.type}/${mime.subtype}`;
}
