// Dates and numbers as an operator reads them (the browser's locale and time zone).

const time = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dayTime = new Intl.DateTimeFormat(undefined, {
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
});
const number = new Intl.NumberFormat();

/** `14:03:27` */
export const fmtTime = (iso: string | null | undefined): string => (iso ? time.format(new Date(iso)) : '');

/** `6 Dec 2025, 14:03` */
export const fmtDateTime = (iso: string | null | undefined): string =>
  iso ? dateTime.format(new Date(iso)) : '';

/** `14:03:27` today, else `Dec 6, 14:03`. */
export function fmtWhen(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  return d.toDateString() === new Date().toDateString() ? time.format(d) : dayTime.format(d);
}

/** `1,234` */
export const fmtNumber = (n: number | null | undefined): string =>
  n === null || n === undefined ? '–' : number.format(n);

/** `3 min ago`, `2 h ago`, `in 5 h` */
export function fmtRelative(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '';
  const s = Math.round((new Date(iso).getTime() - now) / 1000);
  const a = Math.abs(s);
  const v =
    a < 60
      ? `${a} s`
      : a < 3600
        ? `${Math.round(a / 60)} min`
        : a < 86400
          ? `${Math.round(a / 3600)} h`
          : `${Math.round(a / 86400)} d`;
  return s < 0 ? `${v} ago` : `in ${v}`;
}
