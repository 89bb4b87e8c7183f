#include "xml-util.h"

#include <string.h>

#include <glib/gi18n.h>
#include <libxml/parser.h>

#include "error.h"

xmlDocPtr
vp_xml_new_doc(const char *name, xmlNodePtr *root)
{
    xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
    /* Declared UTF-8, so non-ASCII text is written as itself, not as
     * character references. */
    doc->encoding = xmlStrdup(BAD_CAST "UTF-8");
    *root = xmlNewNode(NULL, BAD_CAST name);
    xmlDocSetRootElement(doc, *root);
    return doc;
}

xmlNodePtr
vp_xml_child(xmlNodePtr parent, const char *name, const char *text)
{
    xmlNodePtr node = xmlNewChild(parent, NULL, BAD_CAST name, NULL);
    if (text != NULL) {
        /* xmlNodeAddContent escapes; xmlNewChild's content would not. */
        xmlNodeAddContent(node, BAD_CAST text);
    }
    return node;
}

void
vp_xml_attr(xmlNodePtr node, const char *name, const char *value)
{
    if (value != NULL) {
        xmlSetProp(node, BAD_CAST name, BAD_CAST value);
    }
}

char *
vp_xml_to_string_node(xmlNodePtr node)
{
    g_autoptr(xmlBuffer) buf = xmlBufferCreate();
    /* Formatted, so that documents diff line by line (--print-diff) and golden
     * files stay readable. */
    xmlNodeDump(buf, node->doc, node, 0, 1);
    return g_strdup_printf("%s\n", (const char *)xmlBufferContent(buf));
}

/* libxml2 allocates with its own allocator: the copies are g_free-able. */
char *
vp_xml_prop(xmlNodePtr node, const char *name)
{
    xmlChar *v = node != NULL ? xmlGetProp(node, BAD_CAST name) : NULL;
    char *r = g_strdup((const char *)v);
    xmlFree(v);
    return r;
}

char *
vp_xml_content(xmlNodePtr node)
{
    xmlChar *v = xmlNodeGetContent(node);
    char *r = g_strdup(v != NULL ? (const char *)v : "");
    xmlFree(v);
    return r;
}

char *
vp_xml_to_string(xmlDocPtr doc)
{
    return vp_xml_to_string_node(xmlDocGetRootElement(doc));
}

xmlDocPtr
vp_xml_parse(const char *text, const char *what, GError **error)
{
    /* No network, no entity expansion: the text may come from a remote
     * daemon.  Blank nodes are dropped so that re-serialising indents afresh;
     * libxml2's own error output is silenced, its message carried in the
     * GError instead. */
    xmlDocPtr doc = xmlReadMemory(text, (int)strlen(text), what, NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOBLANKS |
                                  XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (doc == NULL) {
        const xmlError *e = xmlGetLastError();
        g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                    _("cannot parse %1$s: %2$s"), what,
                    e != NULL && e->message != NULL ? g_strchomp(e->message)
                                                    : _("invalid XML"));
    }
    return doc;
}

char *
vp_xml_xpath_string(xmlDocPtr doc, const char *xpath)
{
    g_autoptr(xmlXPathContext) ctx = xmlXPathNewContext(doc);
    /* string(): a missing node gives an empty string, not a node set. */
    g_autofree char *expr = g_strdup_printf("string(%s)", xpath);
    g_autoptr(xmlXPathObject) obj = xmlXPathEvalExpression(BAD_CAST expr, ctx);

    if (obj == NULL || obj->stringval == NULL || obj->stringval[0] == '\0') {
        return NULL;
    }
    return g_strdup((const char *)obj->stringval);
}
