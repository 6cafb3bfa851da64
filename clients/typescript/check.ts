// The one assertion the programs make: the server answered as schema.yml says.
export function check(condition: boolean, what: string): asserts condition {
  if (!condition) {
    throw new Error(what);
  }
}
