export * from './webhook.types';
export * from './webhook.parser';
export * from './signature';
export * from './outbound.types';
export * from './outbound.builder';
export { CONTENT_LIMITS } from './content-limits';
export * from './graph-errors';
export * from './template-check';
export * from './vocabulary';
