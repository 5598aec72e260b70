export {
  type ActionRequestView,
  type AuditEventView,
  type ClientOptions,
  CountersignApiError,
  CountersignClient,
  finalStatuses,
  type Problem,
  type RequestStatus,
  type SubmitAction,
} from './client.js';
