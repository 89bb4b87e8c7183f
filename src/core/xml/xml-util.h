/* libxml2 helpers: autoptr cleanups and small tree-building shortcuts.
 * All XML of the project is built with the tree API, so user text is
 * escaped by libxml2 and never pasted into markup. */
#pragma once

#include <glib.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, xmlFreeDoc)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlBuffer, xmlBufferFree)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathContext, xmlXPathFreeContext)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathObject, xmlXPathFreeObject)

/* A new UTF-8 document whose root element is NAME. */
xmlDocPtr vp_xml_new_doc(const char *name, xmlNodePtr *root);

/* A new child element NAME of PARENT with optional TEXT content (escaped). */
xmlNodePtr vp_xml_child(xmlNodePtr parent, const char *name, const char *text);
/* Sets attribute NAME to VALUE (escaped); a NULL VALUE sets nothing. */
void vp_xml_attr(xmlNodePtr node, const char *name, const char *value);

/* NODE (and its children) as text, indented.  Caller frees. */
char *vp_xml_to_string_node(xmlNodePtr node);

/* The value of NODE's attribute NAME, NULL when NODE is NULL or has none;
 * the text content of NODE (its descendants' text), "" when empty.  Both
 * copies the caller frees with g_free. */
char *vp_xml_prop(xmlNodePtr node, const char *name);
char *vp_xml_content(xmlNodePtr node);

/* DOC as text, indented, without the XML declaration.  Caller frees. */
char *vp_xml_to_string(xmlDocPtr doc);

/* Parses TEXT (no network access, no entities).  Fails with
 * VP_ERROR_FAILED naming WHAT. */
xmlDocPtr vp_xml_parse(const char *text, const char *what, GError **error);

/* The string value of XPATH evaluated in DOC, NULL when empty.  Caller
 * frees. */
char *vp_xml_xpath_string(xmlDocPtr doc, const char *xpath);
