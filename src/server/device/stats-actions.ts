/**
 * The stat actions the plugin sends (PROTOCOL.md §5; grep of @capgo/capacitor-updater 8.51.x
 * native code, plus `session_key_required`, which 8.51 sends and the protocol notes do not list),
 * and how Airlock counts them for a release's health (ARCHITECTURE.md §6, automatic pause).
 *
 * Outcome rules:
 * - **success**: `set` (the device switched to the bundle; `version_name` is the new bundle).
 * - **failure**: the events that say *this bundle* could not be installed or broke the app:
 *   download/integrity (`download_fail`, `finish_download_fail`, `checksum_fail`,
 *   `checksum_required`, `session_key_required`, `decrypt_fail`), unpacking (`unzip_fail`,
 *   `windows_path_fail`, `canonical_path_fail`, `directory_path_fail`), activation (`set_fail`,
 *   `update_fail`: the bundle never called notifyAppReady and the plugin rolled it back) and crashes
 *   (`app_crash`, `app_crash_native`, `app_anr`, `app_initialization_failure`).
 * - everything else is **neutral**: progress, lifecycle, WebView diagnostics, and failures that
 *   describe the device rather than the bundle (`low_mem_fail`, `insufficient_disk_space`,
 *   `rate_limit_reached`, `blocked_by_server_url`).
 *
 * Counts are per event, not per device: a device that fails three times counts three failures.
 */

/** Every action Airlock accepts; anything else is rejected like the Capgo backend does (§5). */
export const STAT_ACTIONS: ReadonlySet<string> = new Set([
  // lifecycle
  'set',
  'set_next',
  'set_fail',
  'reset',
  'delete',
  'update_fail',
  'app_moved_to_foreground',
  'app_moved_to_background',
  'app_launch_start',
  'app_launch_ready',
  'app_launch_timeout',
  // download
  'download_10',
  'download_20',
  'download_30',
  'download_40',
  'download_50',
  'download_60',
  'download_70',
  'download_80',
  'download_90',
  'download_complete',
  'download_fail',
  'finish_download_fail',
  'download_zip_start',
  'download_zip_complete',
  'download_manifest_start',
  'download_manifest_complete',
  'download_manifest_file_fail',
  'download_manifest_checksum_fail',
  'download_manifest_brotli_fail',
  'manifest_path_fail',
  // integrity and crypto
  'checksum_fail',
  'checksum_required',
  'session_key_required',
  'decrypt_fail',
  // file system
  'unzip_fail',
  'windows_path_fail',
  'canonical_path_fail',
  'directory_path_fail',
  'low_mem_fail',
  'insufficient_disk_space',
  // network and server
  'blocked_by_server_url',
  'rate_limit_reached',
  // app health
  'app_crash',
  'app_crash_native',
  'app_anr',
  'app_killed_low_memory',
  'app_killed_excessive_resource_usage',
  'app_initialization_failure',
  'app_memory_warning',
  // WebView
  'webview_javascript_error',
  'webview_unhandled_rejection',
  'webview_resource_error',
  'webview_security_policy_violation',
  'webview_unclean_restart',
  'webview_render_process_gone',
  'webview_content_process_terminated',
  'webview_dom_content_loaded',
  'webview_page_loaded',
  // version changes
  'os_version_changed',
  'native_app_version_changed',
]);

/** Actions that count as a successful install of `version_name`. */
export const SUCCESS_ACTIONS: ReadonlySet<string> = new Set(['set']);

/** Actions that count as a failure of `version_name` (see the module comment for why these). */
export const FAILURE_ACTIONS: ReadonlySet<string> = new Set([
  'download_fail',
  'finish_download_fail',
  'checksum_fail',
  'checksum_required',
  'session_key_required',
  'decrypt_fail',
  'unzip_fail',
  'windows_path_fail',
  'canonical_path_fail',
  'directory_path_fail',
  'set_fail',
  'update_fail',
  'app_crash',
  'app_crash_native',
  'app_anr',
  'app_initialization_failure',
]);

export type StatOutcome = 'success' | 'failure' | 'neutral';

/**
 * How an action counts toward a release's health.
 * @example outcomeOf('set') // 'success'
 */
export function outcomeOf(action: string): StatOutcome {
  if (SUCCESS_ACTIONS.has(action)) return 'success';
  if (FAILURE_ACTIONS.has(action)) return 'failure';
  return 'neutral';
}
