// A table lookup for words users type. `table[word]` on an object literal
// also finds what every object inherits ("constructor", "toString",
// "__proto__"), so a typed word could select a function as if it were an
// entry; only the table's own keys count.

export function own<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}
