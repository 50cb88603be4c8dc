import { ArgumentMetadata, Injectable, PipeTransform } from '@nestjs/common';
import { ApiError } from './api-error';
import { isPgText } from '@gtc/db';
import { PG_TEXT_MESSAGE } from './validation';

/**
 * Checks every path parameter (`:tenant`, `:team`, `:name`, `:id`, …) with the shared "text Postgres can store" rule
 * before any handler sees it: 400 `validation_failed` naming the parameter. Bodies and queries are parsed by the
 * routes' zod schemas, which apply the same rule field by field.
 */
@Injectable()
export class PathParamsPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type !== 'param') return value;
    const params: Record<string, unknown> = metadata.data === undefined ? ((value ?? {}) as Record<string, unknown>) : { [metadata.data]: value };
    const details = Object.entries(params)
      .filter(([, v]) => typeof v === 'string' && !isPgText(v))
      .map(([path]) => ({ path, message: PG_TEXT_MESSAGE }));
    if (details.length) throw new ApiError(400, 'validation_failed', `invalid path: ${details.map((d) => d.path).join(', ')}`, details);
    return value;
  }
}
