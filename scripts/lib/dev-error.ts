/** A failure of `npm run dev` the user can fix: printed as one line, without a stack. */
export class DevError extends Error {
  override name = "DevError";
}
