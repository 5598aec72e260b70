// mvdan-sh ships no types; shell-words.ts declares the slice of its API it uses.
declare module 'mvdan-sh' {
  const sh: unknown;
  export default sh;
}
