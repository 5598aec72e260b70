import type { CompileEnv, Cond } from './conditions.js';
import type { MatchT } from './language.js';
import { PolicyError, type YamlPath } from './source.js';

export function timeCond(t: NonNullable<MatchT['time']>, at: YamlPath, env: CompileEnv): Cond {
  const tz = t.tz ?? 'UTC';
  let fmt: Intl.DateTimeFormat;
  try {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
  } catch {
    throw new PolicyError(
      env.where([...at, 'tz']),
      `unknown time zone '${tz}'`,
      'Use an IANA name such as UTC or Europe/Berlin',
    );
  }
  const days = t.days ? new Set<string>(t.days) : null;
  const [from, to] = (t.hours ?? '00:00-24:00')
    .split('-')
    .map((h) => Number(h.slice(0, 2)) * 60 + Number(h.slice(3, 5))) as [number, number];
  if (from > 24 * 60 || to > 24 * 60)
    throw new PolicyError(
      env.where([...at, 'hours']),
      `hours '${t.hours}' is not a time of day`,
      'Write HH:MM-HH:MM with hours 00-24',
    );
  return {
    label: `time is ${t.days?.join(',') ?? 'any day'} ${t.hours ?? ''} ${tz}`.trim(),
    test: (c) => {
      const parts = fmt.formatToParts(new Date(c.input.now));
      const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
      const day = get('weekday').slice(0, 3).toLowerCase();
      const minute = Number(get('hour')) * 60 + Number(get('minute'));
      if (days && !days.has(day)) return false;
      return from <= to ? minute >= from && minute < to : minute >= from || minute < to;
    },
  };
}
