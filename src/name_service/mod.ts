/**
 * The contract between runtimes and name servers: the `NameService`
 * interface and the records it passes. The registry implements it in
 * process, `RemoteNameService` over HTTP; a runtime sees only this.
 *
 * @module
 */

export * from "./name_service.ts";
