/** This document and its viewer (src/routes/openapi.ts). */
import { z } from "zod";
import { operation } from "../define";

const tag = "documentation";

export const documentationOperations = [
  operation({
    method: "get",
    path: "/openapi.json",
    tag,
    summary: "This OpenAPI 3.1 document",
    auth: false,
    ok: { description: "The document.", schema: z.looseObject({ openapi: z.literal("3.1.0") }) },
  }),
  operation({
    method: "get",
    path: "/docs",
    tag,
    summary: "Interactive documentation (Swagger UI)",
    auth: false,
    ok: { description: "An HTML page that loads /openapi.json.", schema: z.string(), mediaType: "text/html" },
  }),
];
