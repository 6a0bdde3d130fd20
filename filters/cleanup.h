/* filters/cleanup.h: g_autoptr cleanup declarations for the types of the pure
 * core's libraries that do not declare their own (GMime 3.2, PCRE2).
 * Include this instead of declaring cleanups locally. Must never include an
 * I/O library header (daemon/base/cleanup.h does those). */
#pragma once

#include <glib.h>
#include <gmime/gmime.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeMessage, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeParser, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeStream, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeObject, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeDataWrapper, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeFilter, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(InternetAddressList, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeParserOptions, g_mime_parser_options_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(pcre2_code, pcre2_code_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(pcre2_match_data, pcre2_match_data_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(pcre2_match_context, pcre2_match_context_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(pcre2_compile_context, pcre2_compile_context_free)
